// Endpoints: a paged, filterable list whose registration state refreshes
// every 3 s, and the form that creates one.
import * as api from './api.js';
import {badge, clear, field, filterBox, h, onSubmit, pager, refreshRelTimes,
	relTime, rememberFocus, signature, table, toast} from './ui.js';
import {generatePassword} from './password.js';

export const FLAGS = [
	['allow_voice', 'Voice calls', true],
	['allow_message', 'Messages', true],
	['allow_video', 'Video', false],
	['allow_same_domain', 'Calls within the domain', true],
	['allow_other_domains', 'Calls to other domains', false],
	['allow_phones', 'Calls to phone numbers', true],
	['allow_apps', 'Calls to applications', true],
];
const FILTERS = ['username__startswith', 'username__contains',
	'alias__contains', 'application_id__exact', 'sip_registered'];
const LIMIT = 20;

// The binding shown for an endpoint: the newest (its sip_contact).
export function newestBinding(ep) {
	const regs = ep.sip_registrations || [];
	return regs.find((r) => r.contact === ep.sip_contact) || regs[0] || null;
}

export async function render(ctx) {
	const {main} = ctx;
	let apps = [];
	let offset = 0;
	const filters = {};
	for (const k of FILTERS)
		filters[k] = ctx.query.get(k) || '';

	const list = h('section', {id: 'endpoint-list', 'aria-live': 'off'});
	const createBox = h('section', {id: 'create-box', class: 'card',
		hidden: true});
	const appOptions = () => apps.map((a) => [a.app_id, a.app_name]);

	const filterForm = h('form', {id: 'endpoint-filters', class: 'filters',
		role: 'search', 'aria-label': 'Filter endpoints'},
	field({name: 'username__startswith', label: 'Username starts with',
		value: filters.username__startswith}),
	field({name: 'username__contains', label: 'Username contains',
		value: filters.username__contains}),
	field({name: 'alias__contains', label: 'Alias contains',
		value: filters.alias__contains}),
	field({name: 'application_id__exact', label: 'Application',
		type: 'select', options: [['', 'Any']]}),
	field({name: 'sip_registered', label: 'Registration', type: 'select',
		options: [['', 'Any'], ['true', 'Registered'],
			['false', 'Not registered']], value: filters.sip_registered}),
	h('div', {class: 'actions'},
		h('button', {type: 'submit'}, 'Apply'),
		h('button', {type: 'reset', class: 'secondary'}, 'Clear')));

	let shown = null; // the signature of what the list shows
	function wanted() {
		const params = {limit: LIMIT, offset};
		for (const k of FILTERS)
			if (filters[k])
				params[k] = filters[k];
		return params;
	}
	async function load() {
		const params = wanted();
		const page = await api.get('Endpoint/', params);
		// gone, or an older answer (a refresh sent before "Apply" or a
		// page change): not drawn over the newer one
		if (!ctx.alive() || JSON.stringify(params) !==
			JSON.stringify(wanted()))
			return;
		const sig = signature([params, page.meta, page.objects]);
		if (sig === shown) {
			refreshRelTimes(list);
			return;
		}
		shown = sig;
		const appName = (ep) => ep.application ?
			h('a', {href: '#/applications', text: ep.application.app_name}) :
			null;
		const t = table('endpoints', [
			{key: 'username', label: 'Username', cell: (ep) =>
				h('a', {href: '#/endpoints/' + ep.endpoint_id,
					text: ep.username})},
			{key: 'alias', label: 'Alias'},
			{key: 'application', label: 'Application', cell: appName},
			{key: 'sip_registered', label: 'Registration', cell: (ep) =>
				badge(ep.sip_registered === 'true', 'Registered',
					'Not registered')},
			{key: 'contact', label: 'Contact', cell: (ep) =>
				ep.sip_contact ? h('code', {text: ep.sip_contact}) : null},
			{key: 'transport', label: 'Transport', cell: (ep) =>
				newestBinding(ep)?.transport},
			{key: 'user_agent', label: 'User agent', cell: (ep) =>
				ep.sip_user_agent},
			{key: 'expires', label: 'Expires', cell: (ep) =>
				ep.sip_expires ? relTime(ep.sip_expires) : null},
		], page.objects, (ep) => ({'data-endpoint-id': ep.endpoint_id,
			'data-registered': ep.sip_registered === 'true' ?
				'true' : 'false'}),
		'No endpoints match.');
		const restore = rememberFocus(list);
		clear(list).append(t, pager(page.meta, page.objects.length,
			(o) => {
				offset = o;
				load().catch(showLoadError);
			}));
		restore();
	}
	function showLoadError(e) {
		shown = null;
		clear(list).append(h('p', {class: 'form-error', role: 'alert',
			text: e.message}));
	}

	onSubmit(filterForm, async () => {
		for (const k of FILTERS)
			filters[k] = filterForm.elements[k].value.trim();
		offset = 0;
		const q = new URLSearchParams();
		for (const k of FILTERS)
			if (filters[k])
				q.set(k, filters[k]);
		history.replaceState(null, '', '#/endpoints' +
			(q.toString() ? '?' + q : ''));
		await load();
	});
	filterForm.addEventListener('reset', () => setTimeout(() =>
		filterForm.requestSubmit(), 0));

	const newBtn = h('button', {type: 'button', id: 'new-endpoint',
		'aria-expanded': 'false', 'aria-controls': 'create-box'},
	'New endpoint');
	newBtn.addEventListener('click', () => {
		const open = createBox.hidden;
		createBox.hidden = !open;
		newBtn.setAttribute('aria-expanded', String(open));
		if (open) {
			renderCreate(createBox, appOptions());
			createBox.querySelector('[name=username]').focus();
		}
	});

	main.append(h('div', {class: 'page-head'},
		h('h1', {text: 'Endpoints'}), newBtn), createBox,
	filterBox(filterForm, 'Filters'), list);

	try {
		apps = await api.all('Application/');
	} catch (e) {
		apps = [];
	}
	const sel = filterForm.elements.application_id__exact;
	for (const [v, l] of appOptions())
		sel.append(h('option', {value: v, text: l}));
	sel.value = filters.application_id__exact;
	await load();
	ctx.every(3000, load);
}

function renderCreate(box, appOptions) {
	const pw = field({name: 'password', label: 'Password', type: 'password',
		required: true, autocomplete: 'new-password',
		help: '8 to 128 printable characters.',
		after: h('button', {type: 'button', id: 'generate-password',
			class: 'secondary small'}, 'Generate')});
	const form = h('form', {id: 'endpoint-create', novalidate: true,
		'aria-labelledby': 'create-title'},
	h('h2', {id: 'create-title', text: 'New endpoint'}),
	h('p', {class: 'form-error', role: 'alert', hidden: true}),
	h('div', {class: 'grid'},
		field({name: 'username', label: 'Username', required: true,
			help: '1 to 64 letters, digits or _. Cannot change later.'}),
		pw,
		field({name: 'alias', label: 'Alias',
			help: 'A friendly name; the username when empty.'}),
		field({name: 'application', label: 'Application', type: 'select',
			options: [['', 'Account default'], ['none', 'None']]
				.concat(appOptions)})),
	h('fieldset', {}, h('legend', {text: 'Allowed'}),
		h('div', {class: 'checks'}, FLAGS.map(([name, label, def]) =>
			field({name, label, type: 'checkbox', value: def})))),
	h('div', {class: 'actions'},
		h('button', {type: 'submit', id: 'create-endpoint'},
			'Create endpoint'),
		h('button', {type: 'button', class: 'secondary', onclick: () => {
			box.hidden = true;
			const opener = document.getElementById('new-endpoint');
			opener.setAttribute('aria-expanded', 'false');
			opener.focus();
		}}, 'Cancel')));
	form.querySelector('#generate-password').addEventListener('click',
		() => {
			const input = form.elements.password;
			input.value = generatePassword();
			input.type = 'text';
			input.focus();
			input.select();
		});
	onSubmit(form, async () => {
		const v = {};
		for (const el of form.elements) {
			if (!el.name)
				continue;
			v[el.name] = el.type === 'checkbox' ? el.checked : el.value;
		}
		const body = {username: v.username, password: v.password};
		if (v.alias.trim())
			body.alias = v.alias;
		if (v.application === 'none')
			body.application = null;
		else if (v.application)
			body.application = v.application;
		for (const [name] of FLAGS)
			body[name] = v[name];
		const r = await api.post('Endpoint/', body);
		form.elements.password.value = '';
		toast('Endpoint ' + r.username + ' created');
		location.hash = '#/endpoints/' + r.endpoint_id;
	});
	clear(box).append(form);
}
