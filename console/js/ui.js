// DOM helpers: every text from the API goes in with textContent (never
// innerHTML), every field has a label and a place for its error.

export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false)
			continue;
		if (k === 'class')
			el.className = v;
		else if (k === 'text')
			el.textContent = v;
		else if (k.startsWith('on') && typeof v === 'function')
			el.addEventListener(k.slice(2), v);
		else if (k === 'value')
			el.value = v;
		else if (k === 'checked')
			el.checked = !!v;
		else
			el.setAttribute(k, v === true ? '' : String(v));
	}
	for (const c of children.flat()) {
		if (c === null || c === undefined || c === false)
			continue;
		el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return el;
}

export function clear(el) {
	while (el.firstChild)
		el.firstChild.remove();
	return el;
}

let toastTimer = null;
export function toast(message, kind = 'ok') {
	const t = document.getElementById('toast');
	t.textContent = message;
	t.className = 'show ' + kind;
	clearTimeout(toastTimer);
	toastTimer = setTimeout(() => {
		t.className = '';
		t.textContent = '';
	}, 6000);
}

let uid = 0;
// A labelled field: {name, label, type, value, options:[[value,label]],
// help, describedBy (another element's id), required, readonly, disabled,
// autocomplete, placeholder, minlength, maxlength, inputmode, after (a node
// put right after the input)}.
export function field(o) {
	const id = 'f-' + (o.id || o.name) + '-' + (++uid);
	const err = h('p', {class: 'field-error', 'data-error-for': o.name,
		id: id + '-err', 'aria-live': 'polite'});
	const help = o.help ? h('p', {class: 'help', id: id + '-help',
		text: o.help}) : null;
	const describedBy = [o.describedBy, help ? id + '-help' : null,
		id + '-err']
		.filter(Boolean).join(' ');
	let input;
	const common = {id: o.inputId || id, name: o.name,
		'aria-describedby': describedBy, required: !!o.required,
		disabled: !!o.disabled, readonly: !!o.readonly};
	if (o.type === 'select') {
		input = h('select', common, (o.options || []).map(([v, l]) =>
			h('option', {value: v, text: l})));
		if (o.value !== undefined)
			input.value = o.value;
	} else if (o.type === 'checkbox') {
		input = h('input', {...common, type: 'checkbox',
			checked: !!o.value});
		const wrap = h('div', {class: 'field check'},
			h('label', {for: common.id}, input, ' ', o.label),
			err, help);
		return wrap;
	} else {
		input = h('input', {...common, type: o.type || 'text',
			value: o.value ?? '', autocomplete: o.autocomplete || 'off',
			placeholder: o.placeholder, minlength: o.minlength,
			maxlength: o.maxlength, inputmode: o.inputmode,
			spellcheck: 'false'});
	}
	return h('div', {class: 'field'},
		h('label', {for: common.id, text: o.label}), input, err, o.after,
		help);
}

export function clearErrors(form) {
	for (const e of form.querySelectorAll('[data-error-for]'))
		e.textContent = '';
	for (const i of form.querySelectorAll('[aria-invalid]'))
		i.removeAttribute('aria-invalid');
	const a = form.querySelector('.form-error');
	if (a) {
		a.textContent = '';
		a.hidden = true;
	}
}

// Shows an ApiError in form: each `details` entry beside its field, the
// message in the form's alert. Focuses the first bad field.
export function showErrors(form, err) {
	clearErrors(form);
	let first = null;
	const rest = [];
	for (const [k, msg] of Object.entries(err.details || {})) {
		const slot = form.querySelector(
			'[data-error-for="' + CSS.escape(k) + '"]');
		const input = form.querySelector('[name="' + CSS.escape(k) + '"]');
		if (slot) {
			slot.textContent = msg;
			if (input) {
				input.setAttribute('aria-invalid', 'true');
				first = first || input;
			}
		} else {
			rest.push(k + ': ' + msg);
		}
	}
	let a = form.querySelector('.form-error');
	if (!a) {
		a = h('p', {class: 'form-error', role: 'alert'});
		form.prepend(a);
	}
	a.textContent = err.message + (rest.length ? ' (' + rest.join('; ') +
		')' : '');
	a.hidden = false;
	if (!first)
		a.tabIndex = -1;
	(first || a).focus();
}

// A submit handler that disables the form's buttons while it runs and
// shows the API's errors in the form.
export function onSubmit(form, fn) {
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const buttons = form.querySelectorAll('button');
		buttons.forEach((b) => (b.disabled = true));
		form.setAttribute('aria-busy', 'true');
		try {
			clearErrors(form);
			await fn(ev);
		} catch (e) {
			if (e && e.status !== undefined)
				showErrors(form, e);
			else
				showErrors(form, {message: String(e), details: {}});
		} finally {
			buttons.forEach((b) => (b.disabled = false));
			form.removeAttribute('aria-busy');
		}
	});
}

// The confirmation dialog: opts {title, body: [nodes], yes, danger,
// action: async (form) => void}. The action's ApiError shows in the
// dialog (which stays open); success closes it. Resolves true when the
// action ran, false when cancelled.
export function confirm(opts) {
	const dlg = document.getElementById('confirm');
	const form = document.getElementById('confirm-form');
	const yes = document.getElementById('confirm-yes');
	const no = document.getElementById('confirm-no');
	document.getElementById('confirm-title').textContent = opts.title;
	clear(document.getElementById('confirm-body')).append(...(opts.body || []));
	yes.textContent = opts.yes || 'Delete';
	yes.className = opts.danger === false ? '' : 'danger';
	clearErrors(form);
	return new Promise((resolve) => {
		const done = (v) => {
			form.onsubmit = null;
			no.onclick = null;
			dlg.oncancel = null;
			if (dlg.open)
				dlg.close();
			resolve(v);
		};
		form.onsubmit = async (ev) => {
			ev.preventDefault();
			yes.disabled = true;
			try {
				await opts.action(form);
				done(true);
			} catch (e) {
				showErrors(form, e);
				if (opts.onError)
					opts.onError(e, form);
			} finally {
				yes.disabled = false;
			}
		};
		no.onclick = () => done(false);
		dlg.oncancel = () => done(false);
		dlg.showModal();
		no.focus();
	});
}

// "2026-12-01T10:00:00Z" -> local "1 Dec, 10:00:00"; and "in 5 min".
export function fmtTime(iso) {
	if (!iso)
		return '—';
	const d = new Date(iso.includes('T') ? iso : iso.replace(' ', 'T') + 'Z');
	if (isNaN(d))
		return iso;
	return d.toLocaleString(undefined, {day: 'numeric', month: 'short',
		hour: '2-digit', minute: '2-digit', second: '2-digit'});
}

// Rewrites every <time data-rel> under root ("in 5 min") without
// rebuilding anything else.
export function refreshRelTimes(root) {
	for (const t of root.querySelectorAll('time[data-rel]'))
		t.textContent = fmtIn(t.dateTime);
}

// A relative time element that refreshRelTimes keeps current.
export function relTime(iso) {
	return h('time', {datetime: iso, title: fmtTime(iso) + ' (' + iso + ')',
		'data-rel': '', text: fmtIn(iso)});
}

// Before a container is rebuilt: remembers which element in it has the
// focus (by id, or by its row's key, its cell and its kind) and returns a
// function that puts the focus back on its replacement, so that a
// periodic refresh never throws a keyboard user out of a table.
const ROW_KEYS = ['data-endpoint-id', 'data-app-id', 'data-call-uuid'];
export function rememberFocus(container) {
	const a = document.activeElement;
	if (!a || a === container || !container.contains(a))
		return () => {};
	let sel;
	if (a.id) {
		sel = '#' + CSS.escape(a.id);
	} else {
		const row = a.closest(ROW_KEYS.map((k) => '[' + k + ']').join(','));
		const key = row && ROW_KEYS.find((k) => row.hasAttribute(k));
		const cell = a.closest('[data-field]');
		sel = (row ? '[' + key + '="' + CSS.escape(row.getAttribute(key)) +
			'"] ' : '') + (cell ? '[data-field="' +
			CSS.escape(cell.dataset.field) + '"] ' : '') +
			a.tagName.toLowerCase() +
			[...a.classList].map((c) => '.' + CSS.escape(c)).join('');
	}
	return () => {
		const el = container.querySelector(sel);
		if (el && el !== document.activeElement)
			el.focus({preventScroll: true});
	};
}

// What a list answer looks like, minus its per-request api_id: two equal
// signatures mean nothing to redraw.
export function signature(obj) {
	return JSON.stringify(obj, (k, v) => (k === 'api_id' ? undefined : v));
}

export function fmtIn(iso) {
	if (!iso)
		return '—';
	const s = Math.round((new Date(iso) - Date.now()) / 1000);
	if (isNaN(s))
		return iso;
	if (s <= 0)
		return 'now';
	if (s < 120)
		return 'in ' + s + ' s';
	if (s < 7200)
		return 'in ' + Math.round(s / 60) + ' min';
	return 'in ' + Math.round(s / 3600) + ' h';
}

// A table whose rows become cards on a narrow screen (each cell carries
// its column's label). cols: [{key, label, cell(row) -> node|string}].
export function table(id, cols, rows, rowAttrs, empty) {
	const t = h('table', {id, class: 'data'},
		h('thead', {}, h('tr', {}, cols.map((c) =>
			h('th', {scope: 'col', text: c.label})))),
		h('tbody', {}, rows.length ? rows.map((r) => h('tr', rowAttrs(r),
			cols.map((c) => {
				const v = c.cell ? c.cell(r) : r[c.key];
				return h('td', {'data-field': c.key, 'data-label': c.label},
					v === null || v === undefined || v === '' ? '—' : v);
			}))) : h('tr', {class: 'empty'}, h('td', {colspan: cols.length,
			text: empty || 'Nothing here yet.'}))));
	return h('div', {class: 'table-wrap'}, t);
}

// Paging controls for a list envelope's meta.
export function pager(meta, count, go) {
	const from = count ? meta.offset + 1 : 0;
	const to = meta.offset + count;
	return h('div', {class: 'pager'},
		h('button', {type: 'button', id: 'page-prev', class: 'secondary',
			disabled: meta.offset <= 0, onclick: () =>
				go(Math.max(meta.offset - meta.limit, 0))}, '‹ Previous'),
		h('span', {id: 'page-info', 'aria-live': 'polite',
			text: from + '-' + to + ' of ' + meta.total_count}),
		h('button', {type: 'button', id: 'page-next', class: 'secondary',
			disabled: !meta.next, onclick: () =>
				go(meta.offset + meta.limit)}, 'Next ›'));
}

export function badge(on, yes, no) {
	return h('span', {class: 'badge ' + (on ? 'on' : 'off'),
		text: on ? yes : no});
}

// The form's values: {name: value} for text/select, booleans for checkboxes.
export function values(form) {
	const out = {};
	for (const el of form.elements) {
		if (!el.name || el.disabled)
			continue;
		out[el.name] = el.type === 'checkbox' ? el.checked : el.value;
	}
	return out;
}

// Whether the user is typing in a form of page (a refresh then waits).
export function editing(page) {
	const a = document.activeElement;
	return !!(a && page.contains(a) && a.closest('form') &&
		/^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName));
}

// A filter form in a disclosure: open on a wide screen, closed on a
// phone-sized one (where it would push the list below the fold).
export function filterBox(form, label) {
	return h('details', {class: 'filter-box',
		open: matchMedia('(min-width: 721px)').matches ||
			[...form.elements].some((e) => e.value && e.tagName !== 'BUTTON')},
	h('summary', {text: label}), form);
}
