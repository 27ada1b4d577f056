// Applications: list, create, edit, delete (with the 409 "in use" case:
// move the endpoints to another application, or delete them too).
import * as api from './api.js';
import {badge, clear, confirm, field, h, onSubmit, pager, table, toast}
	from './ui.js';

const METHODS = [['POST', 'POST'], ['GET', 'GET']];
const URLS = [
	['answer_url', 'answer_method', 'Answer URL',
		'Fetched when a call starts; its XML decides where the call goes.'],
	['hangup_url', 'hangup_method', 'Hangup URL',
		'Told when a call ends (optional).'],
	['fallback_answer_url', 'fallback_method', 'Fallback answer URL',
		'Tried when the answer URL fails (optional).'],
	['message_url', 'message_method', 'Message URL',
		'Receives the endpoints\' messages (optional).'],
];
const LIMIT = 20;

export async function render(ctx) {
	const {main} = ctx;
	let offset = 0;
	let page = null;
	const list = h('section', {id: 'application-list'});
	const box = h('section', {id: 'application-box', class: 'card',
		hidden: true});

	async function load() {
		page = await api.get('Application/', {limit: LIMIT, offset});
		if (!ctx.alive())
			return;
		clear(list).append(table('applications', [
			{key: 'app_name', label: 'Name', cell: (a) => h('strong',
				{text: a.app_name})},
			{key: 'answer_url', label: 'Answer URL', cell: (a) =>
				h('code', {text: a.answer_url})},
			{key: 'answer_method', label: 'Method'},
			{key: 'default_endpoint_app', label: 'Default', cell: (a) =>
				a.default_endpoint_app ? badge(true, 'Default', '') : null},
			{key: 'actions', label: 'Actions', cell: (a) => h('div',
				{class: 'row-actions'},
				h('button', {type: 'button', class: 'secondary small edit-app',
					'aria-label': 'Edit ' + a.app_name,
					onclick: () => openForm(a)}, 'Edit'),
				h('button', {type: 'button', class: 'danger small delete-app',
					'aria-label': 'Delete ' + a.app_name,
					onclick: () => remove(a)}, 'Delete'))},
		], page.objects, (a) => ({'data-app-id': a.app_id}),
		'No applications yet: create one, then bind endpoints to it.'),
		pager(page.meta, page.objects.length, (o) => {
			offset = o;
			load().catch((e) => toast(e.message, 'error'));
		}));
	}

	function openForm(app) {
		const editing = !!app;
		// where the focus goes back when the form closes
		const opener = document.activeElement instanceof HTMLElement &&
			document.activeElement.tagName === 'BUTTON' ?
			document.activeElement : document.getElementById('new-application');
		const focusBack = () => {
			const el = opener.isConnected ? opener : editing ?
				list.querySelector('tr[data-app-id="' + CSS.escape(a.app_id) +
					'"] .edit-app') : document.getElementById('new-application');
			if (el)
				el.focus();
		};
		const a = app || {answer_method: 'POST', hangup_method: 'POST',
			fallback_method: 'POST', message_method: 'POST'};
		const form = h('form', {id: 'application-form', novalidate: true,
			'aria-labelledby': 'app-form-title'},
		h('h2', {id: 'app-form-title', text: editing ?
			'Edit ' + a.app_name : 'New application'}),
		h('p', {class: 'form-error', role: 'alert', hidden: true}),
		field({name: 'app_name', label: 'Name', value: a.app_name,
			required: true}),
		URLS.map(([u, m, label, help]) => h('div', {class: 'url-row'},
			field({name: u, label, type: 'url', value: a[u] || '',
				help, required: u === 'answer_url',
				placeholder: 'https://'}),
			field({name: m, label: label.replace(/ URL$/, '') + ' method',
				type: 'select', options: METHODS, value: a[m] || 'POST'}))),
		field({name: 'default_endpoint_app', type: 'checkbox',
			label: 'Default application of new endpoints',
			value: a.default_endpoint_app}),
		h('div', {class: 'actions'},
			h('button', {type: 'submit', id: 'save-application'},
				editing ? 'Save changes' : 'Create application'),
			h('button', {type: 'button', class: 'secondary',
				onclick: () => {
					box.hidden = true;
					focusBack();
				}}, 'Cancel')));
		onSubmit(form, async () => {
			const body = {};
			const el = form.elements;
			for (const k of ['app_name', ...URLS.flatMap(([u, m]) =>
				[u, m])]) {
				const v = el[k].value.trim();
				if (!editing) {
					if (v)
						body[k] = v;
				} else if (v !== (a[k] || '')) {
					body[k] = v;
				}
			}
			const d = el.default_endpoint_app.checked;
			if (d !== !!a.default_endpoint_app)
				body.default_endpoint_app = d;
			if (editing) {
				if (!Object.keys(body).length) {
					toast('Nothing changed');
					return;
				}
				await api.post('Application/' + a.app_id + '/', body);
				toast('Application saved');
			} else {
				await api.post('Application/', body);
				toast('Application ' + body.app_name + ' created');
			}
			box.hidden = true;
			await load();
			focusBack();
		});
		clear(box).append(form);
		box.hidden = false;
		form.elements.app_name.focus();
	}

	async function remove(a) {
		const inUse = h('div', {class: 'in-use', hidden: true});
		const ok = await confirm({
			title: 'Delete ' + a.app_name + '?',
			body: [h('p', {text: 'Delete the application ' + a.app_name +
				'? Its call records stay.'}), inUse],
			yes: 'Delete',
			action: async (form) => {
				let payload;
				if (!inUse.hidden) {
					const move = form.elements.new_endpoint_application.value;
					const cascade = form.elements.cascade.checked;
					if (!move && !cascade)
						throw {status: 400, message: 'Choose what happens ' +
							'to its endpoints', details: {
							new_endpoint_application: 'Choose an ' +
								'application, or tick the box below'}};
					payload = move ? {new_endpoint_application: move} :
						{cascade: 'true'};
				}
				await api.del('Application/' + a.app_id + '/', payload);
			},
			onError: async (e, form) => {
				if (e.status !== 409 || !inUse.hidden)
					return;
				await explainInUse(a, e, inUse, form);
			},
		});
		if (ok) {
			toast('Application ' + a.app_name + ' deleted');
			await load();
		}
	}

	// The 409 "in use" answer: says how many endpoints use the
	// application and offers the API's two ways out, moving them to
	// another application or deleting them with it.
	async function explainInUse(a, e, box, form) {
		let count = null;
		let others = [];
		try {
			[count, others] = await Promise.all([
				api.get('Endpoint/', {application_id__exact: a.app_id,
					limit: 1}).then((p) => p.meta.total_count),
				api.all('Application/').then((l) => l.filter((x) =>
					x.app_id !== a.app_id)),
			]);
		} catch (err) {
			const m = /used by (\d+)/.exec(e.message);
			count = m ? Number(m[1]) : null;
		}
		const n = count === null ? 'Some endpoints use' : count === 1 ?
			'1 endpoint uses' : count + ' endpoints use';
		const alert = form.querySelector('.form-error');
		alert.hidden = true;
		const select = field({name: 'new_endpoint_application',
			label: 'Move ' + (count === 1 ? 'it' : 'them') + ' to',
			type: 'select',
			options: [['', others.length ? '— choose an application —' :
				'— no other application —']].concat(
				others.map((x) => [x.app_id, x.app_name]))});
		const cascade = field({name: 'cascade', type: 'checkbox',
			label: 'Or delete ' + (count === 1 ? 'it' : 'them') +
				' too (cannot be undone)'});
		const sel = select.querySelector('select');
		const box2 = cascade.querySelector('input');
		const yes = document.getElementById('confirm-yes');
		const label = () => {
			yes.textContent = box2.checked ? 'Delete application and ' +
				'endpoints' : sel.value ? 'Move endpoints and delete' :
				'Delete';
		};
		sel.addEventListener('change', () => {
			if (sel.value)
				box2.checked = false;
			label();
		});
		box2.addEventListener('change', () => {
			if (box2.checked)
				sel.value = '';
			label();
		});
		clear(box).append(
			h('p', {class: 'warn', role: 'alert', text: n + ' ' +
				a.app_name + '. An endpoint always points to an existing ' +
				'application or to none, so choose what happens to ' +
				(count === 1 ? 'it' : 'them') + ':'}),
			select, cascade);
		box.hidden = false;
		sel.focus();
	}

	main.append(h('div', {class: 'page-head'},
		h('h1', {text: 'Applications'}),
		h('button', {type: 'button', id: 'new-application',
			onclick: () => openForm(null)}, 'New application')),
	h('p', {class: 'help', text: 'An application is the webhook that ' +
		'handles its endpoints\' calls: sipward fetches its answer URL ' +
		'and follows the XML it returns.'}),
	box, list);
	await load();
}
