// Calls: the calls in progress (every node's), refreshed every 2 s, each
// with a hang-up button; the call records below, filtered and paged.
import * as api from './api.js';
import {clear, field, filterBox, h, onSubmit, pager, rememberFocus, signature,
	table, toast} from './ui.js';

const FILTERS = ['call_direction', 'from_number', 'to_number',
	'hangup_cause_code', 'end_time__gte', 'end_time__lte'];
const LIMIT = 20;

function duration(s) {
	if (!s)
		return '0:00';
	const m = Math.floor(s / 60);
	return m + ':' + String(s % 60).padStart(2, '0');
}

export async function render(ctx) {
	const {main} = ctx;
	const live = h('section', {id: 'live-box', 'aria-labelledby': 'live-h'});
	const hist = h('section', {id: 'history-list'});
	const ending = new Set();
	let offset = 0;
	const filters = {};

	let liveShown = null;
	async function loadLive() {
		const ids = (await api.get('Call/', {status: 'live'})).calls || [];
		// a call that ended between the two requests answers 404: gone
		const rows = (await Promise.all(ids.map((id) =>
			api.get('Call/' + id + '/', {status: 'live'}).catch((e) => {
				if (e.status === 404)
					return null;
				throw e;
			})))).filter(Boolean);
		if (!ctx.alive())
			return;
		for (const u of [...ending])
			if (!rows.some((c) => c.call_uuid === u))
				ending.delete(u);
		const sig = signature([rows, [...ending]]);
		if (sig === liveShown)
			return;
		liveShown = sig;
		const restore = rememberFocus(live);
		clear(live).append(h('h2', {id: 'live-h', text: 'In progress (' +
			rows.length + ')'}), table('live-calls', [
			{key: 'from', label: 'From', cell: (c) =>
				h('span', {text: c.caller_name ? c.caller_name + ' <' +
					c.from + '>' : c.from})},
			{key: 'to', label: 'To'},
			{key: 'call_status', label: 'Status', cell: (c) =>
				h('span', {class: 'badge ' + (c.call_status ===
					'in-progress' ? 'on' : 'ring'), text:
					ending.has(c.call_uuid) ? 'ending…' : c.call_status})},
			{key: 'session_start', label: 'Started', cell: (c) =>
				c.session_start + ' UTC'},
			{key: 'actions', label: 'Actions', cell: (c) =>
				h('button', {type: 'button', class: 'danger small hangup',
					'aria-label': 'Hang up the call from ' + c.from +
						' to ' + c.to,
					disabled: ending.has(c.call_uuid),
					onclick: () => hangup(c)}, 'Hang up')},
		], rows, (c) => ({'data-call-uuid': c.call_uuid}),
		'No call in progress.'));
		restore();
	}

	async function hangup(c) {
		ending.add(c.call_uuid);
		try {
			await api.del('Call/' + c.call_uuid + '/');
			toast('Hanging up the call from ' + c.from);
		} catch (e) {
			ending.delete(c.call_uuid);
			toast(e.status === 404 ? 'That call had already ended' :
				'Hang-up failed: ' + e.message, 'error');
		}
		await loadLive().catch(() => {});
	}

	let histShown = null;
	function wanted() {
		const params = {limit: LIMIT, offset};
		for (const k of FILTERS)
			if (filters[k])
				params[k] = filters[k];
		return params;
	}
	async function loadHistory() {
		const params = wanted();
		const page = await api.get('Call/', params);
		// gone, or an older answer than the filters or page now asked
		if (!ctx.alive() || JSON.stringify(params) !==
			JSON.stringify(wanted()))
			return;
		const sig = signature([params, page.meta, page.objects]);
		if (sig === histShown)
			return;
		histShown = sig;
		const restore = rememberFocus(hist);
		clear(hist).append(table('call-history', [
			{key: 'initiation_time', label: 'Started (UTC)'},
			{key: 'from_number', label: 'From'},
			{key: 'to_number', label: 'To'},
			{key: 'call_direction', label: 'Direction'},
			{key: 'call_duration', label: 'Duration', cell: (c) =>
				duration(c.call_duration)},
			{key: 'hangup_cause_name', label: 'Hangup cause', cell: (c) =>
				c.hangup_cause_name + ' (' + c.hangup_cause_code + ')'},
			{key: 'hangup_source', label: 'Ended by'},
		], page.objects, (c) => ({'data-call-uuid': c.call_uuid}),
		'No call records match.'), pager(page.meta, page.objects.length,
			(o) => {
				offset = o;
				loadHistory().catch(showErr);
			}));
		restore();
	}
	function showErr(e) {
		histShown = null;
		clear(hist).append(h('p', {class: 'form-error', role: 'alert',
			text: e.message}));
	}

	const form = h('form', {id: 'call-filters', class: 'filters',
		role: 'search', 'aria-label': 'Filter call records'},
	h('p', {class: 'form-error', role: 'alert', hidden: true}),
	field({name: 'call_direction', label: 'Direction', type: 'select',
		options: [['', 'Any'], ['inbound', 'Inbound (A legs)'],
			['outbound', 'Outbound (B legs)']]}),
	field({name: 'from_number', label: 'From (exact)'}),
	field({name: 'to_number', label: 'To (exact)'}),
	field({name: 'hangup_cause_code', label: 'Hangup cause code',
		inputmode: 'numeric'}),
	field({name: 'end_time__gte', label: 'Ended from (UTC)',
		placeholder: 'YYYY-MM-DD HH:MM'}),
	field({name: 'end_time__lte', label: 'Ended until (UTC)',
		placeholder: 'YYYY-MM-DD HH:MM'}),
	h('div', {class: 'actions'},
		h('button', {type: 'submit'}, 'Apply'),
		h('button', {type: 'reset', class: 'secondary'}, 'Clear')));
	onSubmit(form, async () => {
		for (const k of FILTERS) {
			let v = form.elements[k].value.trim();
			// what a datetime picker or an ISO time gives: the API's form
			if (k.startsWith('end_time') && /^\d{4}-\d\d-\d\dT/.test(v))
				v = v.replace('T', ' ').replace(/(\.\d+)?Z$/, '');
			filters[k] = v;
		}
		offset = 0;
		await loadHistory();
	});
	form.addEventListener('reset', () => setTimeout(() =>
		form.requestSubmit(), 0));

	main.append(h('div', {class: 'page-head'}, h('h1', {text: 'Calls'}),
		h('a', {href: '#/phone', class: 'button secondary',
			text: 'Open the phone'})),
	live, h('h2', {text: 'Call records'}),
	filterBox(form, 'Filters'), hist);
	await Promise.all([loadLive(), loadHistory()]);
	ctx.every(2000, loadLive);
	ctx.every(4000, loadHistory);
}
