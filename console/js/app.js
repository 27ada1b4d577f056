// The console's shell: sign-in, navigation, the hash router and each
// page's lifecycle (its timers stop when it is left).
import {ApiError, request, session, setUnauthorizedHandler} from './api.js';
import {clear, field, h, onSubmit, showErrors, toast} from './ui.js';
import * as endpoints from './endpoints.js';
import * as endpoint from './endpoint.js';
import * as applications from './applications.js';
import * as calls from './calls.js';
import * as phonePage from './phone.js';

const PAGES = {endpoints, endpoint, applications, calls, phone: phonePage};
const TITLES = {signin: 'Sign in', endpoints: 'Endpoints',
	endpoint: 'Endpoint', applications: 'Applications', calls: 'Calls',
	phone: 'Phone'};

let current = null; // {timers: [], cleanup}
let signinNotice = '';

// '#/endpoints/123?x=1' -> {name: 'endpoint', id: '123', query}
function parseHash() {
	const raw = location.hash.replace(/^#\/?/, '');
	const [path, qs] = raw.split('?');
	const parts = path.split('/').filter(Boolean);
	const query = new URLSearchParams(qs || '');
	if (parts[0] === 'endpoints' && parts[1])
		return {name: 'endpoint', id: decodeURIComponent(parts[1]), query};
	if (PAGES[parts[0]])
		return {name: parts[0], query};
	return {name: 'endpoints', query};
}

// The banner under the header says when a periodic refresh fails (the
// server went away, say) and goes away at the next success.
function banner(text) {
	const b = document.getElementById('banner');
	b.textContent = text || '';
	b.hidden = !text;
}

function leave() {
	banner('');
	if (!current)
		return;
	current.timers.forEach(clearInterval);
	if (current.cleanup)
		current.cleanup();
	current = null;
}

function setPage(name) {
	document.body.dataset.page = name;
	document.title = TITLES[name] + ' · sipward console';
	for (const a of document.querySelectorAll('#nav a')) {
		const target = a.getAttribute('href').slice(2);
		const on = target === name || (name === 'endpoint' &&
			target === 'endpoints');
		if (on)
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	}
}

function showChrome(signedIn) {
	document.getElementById('nav').hidden = !signedIn;
	document.getElementById('who').hidden = !signedIn;
	const s = session.get();
	document.getElementById('who-id').textContent = s ? s.auth_id : '';
}

async function render() {
	leave();
	const main = clear(document.getElementById('main'));
	if (!session.get()) {
		showChrome(false);
		setPage('signin');
		renderSignin(main);
		return;
	}
	showChrome(true);
	let r;
	try {
		r = parseHash();
	} catch (e) { // a bad %-escape in the address
		r = {name: 'endpoints', query: new URLSearchParams()};
	}
	setPage(r.name);
	const me = {timers: [], cleanup: null};
	current = me;
	const ctx = {
		main, id: r.id, query: r.query,
		alive: () => current === me,
		// fn (async) every ms while this page is shown and the tab
		// visible; a failure shows in the banner until a run succeeds.
		every(ms, fn) {
			let running = false;
			me.timers.push(setInterval(async () => {
				if (current !== me || document.hidden || running)
					return;
				running = true;
				try {
					await fn();
					if (current === me)
						banner('');
				} catch (e) {
					if (current === me && e && e.status !== 401)
						banner('Could not refresh this page: ' +
							(e.message || e) + '. Retrying every ' +
							ms / 1000 + ' s.');
				} finally {
					running = false;
				}
			}, ms));
		},
		onLeave(fn) {
			me.cleanup = fn;
		},
	};
	try {
		await PAGES[r.name].render(ctx);
	} catch (e) {
		if (current !== me)
			return;
		main.append(h('p', {class: 'form-error', role: 'alert',
			text: e instanceof ApiError ? e.message : String(e)}),
		h('p', {}, h('a', {href: '#/endpoints', text: 'Back to the ' +
			'endpoints'})));
	}
}

function renderSignin(main) {
	const form = h('form', {id: 'signin', class: 'card narrow',
		'aria-labelledby': 'signin-title', novalidate: true},
	h('h1', {id: 'signin-title', text: 'Sign in'}),
	h('p', {class: 'help', text: 'Use an account\'s auth_id and ' +
		'auth_token, as printed by make run or sipward account create. ' +
		'They stay in this tab only, until you sign out or close it.'}),
	h('p', {class: 'form-error', role: 'alert', hidden: !signinNotice,
		text: signinNotice}),
	field({name: 'auth_id', inputId: 'auth_id', label: 'Auth ID',
		placeholder: 'MA_XXXXXXXX', required: true,
		autocomplete: 'username'}),
	field({name: 'auth_token', inputId: 'auth_token', label: 'Auth token',
		type: 'password', required: true,
		// not offered to the browser's password manager: the token
		// stays in this tab only
		autocomplete: 'off'}),
	h('div', {class: 'actions'},
		h('button', {type: 'submit', id: 'signin-submit'}, 'Sign in')));
	signinNotice = '';
	onSubmit(form, async () => {
		const creds = {auth_id: form.auth_id.value.trim(),
			auth_token: form.auth_token.value.trim()};
		if (!creds.auth_id || !creds.auth_token) {
			const details = {};
			if (!creds.auth_id)
				details.auth_id = 'Required';
			if (!creds.auth_token)
				details.auth_token = 'Required';
			showErrors(form, {message: 'Enter both values', details});
			return;
		}
		// Checks the pair with a cheap authenticated read.
		await request('GET', 'Endpoint/', {params: {limit: 1}, creds});
		session.set(creds);
		form.auth_token.value = '';
		if (!location.hash || location.hash === '#/signin')
			location.hash = '#/endpoints';
		else
			render();
	});
	main.append(form);
	form.auth_id.focus();
}

export function signOut(notice) {
	phonePage.phone.stop();
	session.clear();
	signinNotice = notice || '';
	if (location.hash && location.hash !== '#/signin')
		history.replaceState(null, '', '#/signin');
	render();
}

setUnauthorizedHandler(() => signOut(
	'The server refused these credentials (401): sign in again.'));
document.getElementById('signout').addEventListener('click', () => {
	signOut();
	toast('Signed out');
});
window.addEventListener('hashchange', () => {
	render();
	document.getElementById('main').focus({preventScroll: true});
});
// The phone lives on while other pages are shown: its state shows as a
// dot in the navigation, and an incoming call is announced on any page.
let lastCall = 'idle';
phonePage.phone.subscribe(() => {
	const p = phonePage.phone;
	const dot = document.getElementById('nav-phone-state');
	dot.className = 'dot ' + p.state + (p.callState === 'incoming' ?
		' ringing' : '');
	dot.title = 'Phone: ' + p.state;
	if (p.callState === 'incoming' && lastCall !== 'incoming' &&
		document.body.dataset.page !== 'phone')
		toast('Incoming call ' + p.callDetail + ': open the Phone page ' +
			'to answer');
	lastCall = p.callState;
});
render();
