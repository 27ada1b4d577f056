// One endpoint: every field, its registrations (refreshed every 3 s), the
// "Update an Endpoint" operations, password rotation, delete.
import * as api from './api.js';
import {badge, clear, clearErrors, confirm, field, fmtTime, h, onSubmit,
	refreshRelTimes, relTime, showErrors, signature, table, toast}
	from './ui.js';
import {generatePassword} from './password.js';
import {FLAGS} from './endpoints.js';

const LOCKED_WHY = 'cannot be changed after creation';
const CHANGEABLE = ['allow_voice', 'allow_message', 'allow_video'];

function yesNo(v) {
	return v ? 'Yes' : 'No';
}

function viewRows(ep) {
	const app = ep.application;
	return [
		['username', 'Username', ep.username],
		['endpoint_id', 'Endpoint ID', ep.endpoint_id],
		['alias', 'Alias', ep.alias],
		['sip_uri', 'SIP URI', h('code', {text: ep.sip_uri})],
		['domain', 'Domain', ep.domain],
		['application', 'Application', app ? app.app_name + ' (' +
			app.app_id + ')' : 'None'],
		['sip_registered', 'Registration', badge(ep.sip_registered ===
			'true', 'Registered', 'Not registered')],
		['sip_contact', 'Contact', ep.sip_contact ?
			h('code', {text: ep.sip_contact}) : '—'],
		['sip_expires', 'Expires', ep.sip_expires ?
			[fmtTime(ep.sip_expires) + ' (', relTime(ep.sip_expires), ')'] :
			'—'],
		['sip_user_agent', 'User agent', ep.sip_user_agent || '—'],
		...FLAGS.map(([k, label]) => [k, label, yesNo(ep[k])]),
		['sub_account', 'Sub-account', ep.sub_account || '—'],
		['resource_uri', 'Resource URI', h('code', {text: ep.resource_uri})],
		['created_at', 'Created', fmtTime(ep.created_at)],
		['updated_at', 'Updated', fmtTime(ep.updated_at)],
	];
}

function renderView(view, ep) {
	view.dataset.registered = ep.sip_registered === 'true' ? 'true' : 'false';
	const dl = h('dl', {class: 'props'}, viewRows(ep).map(([k, l, v]) =>
		h('div', {}, h('dt', {text: l}), h('dd', {'data-field': k}, v))));
	const regs = table('registrations', [
		{key: 'contact', label: 'Contact', cell: (r) =>
			h('code', {text: r.contact})},
		{key: 'transport', label: 'Transport'},
		{key: 'received', label: 'From'},
		{key: 'user_agent', label: 'User agent'},
		{key: 'expires', label: 'Expires', cell: (r) => relTime(r.expires)},
	], ep.sip_registrations || [], () => ({}), 'No live registration.');
	clear(view).append(h('h2', {text: 'Details'}), dl,
		h('h2', {text: 'Registrations'}), regs);
}

export async function render(ctx) {
	const {main, id} = ctx;
	const rel = 'Endpoint/' + encodeURIComponent(id) + '/';
	let ep = await api.get(rel);
	let apps = [];
	try {
		apps = await api.all('Application/');
	} catch (e) {
		apps = [];
	}
	if (!ctx.alive())
		return;
	const view = h('section', {id: 'endpoint-view', class: 'card',
		'aria-labelledby': 'ep-title'});
	const title = h('h1', {id: 'ep-title', text: ep.alias || ep.username});
	const crumb = h('span', {'aria-current': 'page', text: ep.username});
	renderView(view, ep);

	const secret = h('output', {id: 'new-password', 'aria-live': 'polite'});
	const secretBox = h('div', {class: 'secret', hidden: true},
		h('p', {text: 'New password, shown once: give it to the phone ' +
			'now. Phones registered with the old one were logged out.'}),
		h('div', {class: 'secret-row'}, secret,
			h('button', {type: 'button', class: 'secondary small',
				id: 'copy-password', onclick: async () => {
					try {
						await navigator.clipboard.writeText(secret.value);
						toast('Copied');
					} catch (e) {
						getSelection().selectAllChildren(secret);
						toast('Copying is not allowed here: the password ' +
							'is selected, press Ctrl+C', 'error');
					}
				}}, 'Copy'),
			h('button', {type: 'button', class: 'secondary small',
				onclick: () => {
					secret.value = '';
					secretBox.hidden = true;
				}}, 'Hide')));

	const appOptions = [['', 'None']].concat(apps.map((a) =>
		[a.app_id, a.app_name]));
	if (ep.application && !apps.some((a) => a.app_id ===
		ep.application.app_id))
		appOptions.push([ep.application.app_id, ep.application.app_name]);
	const form = h('form', {id: 'endpoint-update', class: 'card',
		novalidate: true, 'aria-labelledby': 'upd-title'},
	h('h2', {id: 'upd-title', text: 'Update'}),
	h('p', {class: 'form-error', role: 'alert', hidden: true}),
	h('div', {class: 'grid'},
		field({name: 'alias', label: 'Alias', value: ep.alias}),
		field({name: 'application', label: 'Application', type: 'select',
			options: appOptions,
			value: ep.application ? ep.application.app_id : ''}),
		field({name: 'password', label: 'New password', type: 'password',
			autocomplete: 'new-password',
			help: 'Leave empty to keep the current one. 8 to 128 ' +
				'printable characters; registrations end when it changes.'})),
	h('fieldset', {}, h('legend', {text: 'Allowed'}),
		h('div', {class: 'checks'}, FLAGS.filter(([k]) =>
			CHANGEABLE.includes(k)).map(([name, label]) =>
			field({name, label, type: 'checkbox', value: ep[name]})))),
	h('div', {class: 'actions'},
		h('button', {type: 'submit', id: 'save-endpoint'}, 'Save changes'),
		h('button', {type: 'button', id: 'rotate-password',
			class: 'secondary'}, 'Rotate password')),
	secretBox,
	h('fieldset', {class: 'locked', disabled: true,
		'aria-describedby': 'locked-why'},
		h('legend', {}, h('span', {class: 'lock', 'aria-hidden': 'true'}),
			'Locked'),
		h('p', {class: 'help', id: 'locked-why', text: 'These fields ' +
			LOCKED_WHY + ': to change one, create a new endpoint.'}),
		h('div', {class: 'grid'},
			[['username', 'Username'], ['endpoint_id', 'Endpoint ID'],
				['domain', 'Domain']].map(([k, label]) =>
				field({name: k, label, value: ep[k], readonly: true,
					describedBy: 'locked-why'})),
			FLAGS.filter(([k]) => !CHANGEABLE.includes(k)).map(
				([name, label]) => field({name, label, type: 'checkbox',
					value: ep[name], disabled: true,
					describedBy: 'locked-why'})))));

	// What the form was last filled from: only fields that differ from it
	// are sent, and a refresh fills the form again only while the user
	// has changed nothing in it.
	let base = null;
	const formValues = () => {
		const el = form.elements;
		const v = {alias: el.alias.value,
			application: el.application.value};
		for (const k of CHANGEABLE)
			v[k] = el[k].checked;
		return v;
	};
	const fromEndpoint = (e) => {
		const v = {alias: e.alias,
			application: e.application ? e.application.app_id : ''};
		for (const k of CHANGEABLE)
			v[k] = !!e[k];
		return v;
	};
	const dirty = () => form.elements.password.value !== '' ||
		signature(formValues()) !== signature(base);

	function setForm(e) {
		base = fromEndpoint(e);
		const el = form.elements;
		const sel = el.application;
		if (base.application && ![...sel.options].some((o) =>
			o.value === base.application))
			sel.append(h('option', {value: base.application,
				text: e.application.app_name}));
		el.alias.value = base.alias;
		sel.value = base.application;
		el.password.value = '';
		for (const k of CHANGEABLE)
			el[k].checked = base[k];
	}
	setForm(ep);
	let shown = signature(ep);
	let asked = 0; // reloads started
	let applied = 0; // the newest one shown: an older answer is dropped
	async function reload() {
		const mine = ++asked;
		const fresh = await api.get(rel);
		if (!ctx.alive() || mine < applied)
			return;
		applied = mine;
		ep = fresh;
		const sig = signature(ep);
		if (sig === shown) {
			refreshRelTimes(view);
			return;
		}
		shown = sig;
		renderView(view, ep);
		title.textContent = ep.alias || ep.username;
		crumb.textContent = ep.username;
		if (!dirty() && !form.hasAttribute('aria-busy'))
			setForm(ep);
	}

	onSubmit(form, async () => {
		const body = {};
		const el = form.elements;
		const v = formValues();
		if (v.alias !== base.alias)
			body.alias = v.alias;
		if (v.application !== base.application)
			body.application = v.application || null;
		if (el.password.value)
			body.password = el.password.value;
		for (const k of CHANGEABLE)
			if (v[k] !== base[k])
				body[k] = v[k];
		if (!Object.keys(body).length) {
			toast('Nothing changed');
			return;
		}
		await api.post(rel, body);
		el.password.value = '';
		await reload();
		setForm(ep);
		toast('Saved: ' + Object.keys(body).join(', '));
	});
	form.querySelector('#rotate-password').addEventListener('click',
		async (ev) => {
			const btn = ev.currentTarget;
			btn.disabled = true;
			const pw = generatePassword();
			clearErrors(form);
			try {
				await api.post(rel, {password: pw});
				secret.value = pw;
				secretBox.hidden = false;
				secretBox.querySelector('#copy-password').focus();
				toast('Password rotated');
				reload().catch(() => {});
			} catch (e) {
				showErrors(form, e);
				toast('Rotation failed: ' + e.message, 'error');
			} finally {
				btn.disabled = false;
			}
		});

	const del = h('button', {type: 'button', id: 'delete-endpoint',
		class: 'danger'}, 'Delete endpoint');
	del.addEventListener('click', async () => {
		const ok = await confirm({
			title: 'Delete ' + ep.username + '?',
			body: [h('p', {text: 'The endpoint is deleted and every phone ' +
				'registered with it is logged out at once. Its call ' +
				'records stay.'})],
			yes: 'Delete',
			action: () => api.del(rel),
		});
		if (ok) {
			toast('Endpoint ' + ep.username + ' deleted');
			location.hash = '#/endpoints';
		}
	});

	main.append(h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'},
		h('a', {href: '#/endpoints', text: 'Endpoints'}), ' / ', crumb),
	h('div', {class: 'page-head'}, title, del),
	h('div', {class: 'two'}, view, form));
	ctx.every(3000, reload);
	ctx.onLeave(() => {
		secret.value = '';
	});
}
