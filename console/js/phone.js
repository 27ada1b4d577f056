// The softphone: registers as an endpoint over SIP WebSocket with JsSIP
// and calls like any phone of that endpoint. The user agent lives in this
// module, so it stays registered while the user moves between pages; the
// password is used for the registration and never stored.
import * as api from './api.js';
import {clear, field, h, onSubmit, showErrors, toast} from './ui.js';

const STATE_TEXT = {
	idle: 'Not connected', connecting: 'Connecting…',
	registered: 'Registered', failed: 'Registration failed',
	unregistered: 'Unregistered',
};
const CALL_TEXT = {
	idle: 'No call', calling: 'Calling…', ringing: 'Ringing…',
	incoming: 'Incoming call', 'in-call': 'In call', ended: 'Call ended',
};

const EP_CAP = 1000; // endpoints offered in the picker

let jssipLoading = null;
function loadJsSIP() {
	if (window.JsSIP)
		return Promise.resolve(window.JsSIP);
	if (!jssipLoading) {
		jssipLoading = new Promise((resolve, reject) => {
			const s = document.createElement('script');
			s.src = 'vendor/jssip.min.js';
			s.onload = () => {
				// never any JsSIP trace in the browser's console (it would
				// show SIP messages), whatever a `debug` key may say
				window.JsSIP.debug.disable();
				resolve(window.JsSIP);
			};
			s.onerror = () => {
				jssipLoading = null;
				reject(new Error('JsSIP is not built into this server ' +
					'(node and npm were missing when it was built)'));
			};
			document.head.append(s);
		});
	}
	return jssipLoading;
}

// The one softphone of this tab.
export const phone = {
	state: 'idle', detail: '', callState: 'idle', callDetail: '',
	who: null, // {username, domain}
	ua: null, session: null, muted: false,
	listeners: new Set(), stateListeners: new Set(),

	onState(fn) {
		this.stateListeners.add(fn);
		fn(this.state);
	},
	subscribe(fn) {
		this.listeners.add(fn);
		return () => this.listeners.delete(fn);
	},
	emit() {
		for (const fn of this.stateListeners)
			fn(this.state);
		for (const fn of this.listeners)
			fn();
	},
	set(state, detail) {
		this.state = state;
		this.detail = detail || '';
		this.emit();
	},
	setCall(state, detail) {
		this.callState = state;
		this.callDetail = detail || '';
		if (state === 'ended' || state === 'idle') {
			this.session = null;
			this.muted = false;
		}
		this.emit();
	},

	async start({wsUrl, username, domain, password}) {
		this.stop();
		const JsSIP = await loadJsSIP();
		this.who = {username, domain};
		this.set('connecting');
		let socket;
		try {
			socket = new JsSIP.WebSocketInterface(wsUrl);
		} catch (e) {
			this.set('failed', 'Bad WebSocket URL: ' + e.message);
			return;
		}
		const ua = new JsSIP.UA({
			sockets: [socket],
			uri: 'sip:' + username + '@' + domain,
			authorization_user: username,
			password,
			register: true,
			session_timers: false,
			user_agent: 'sipward console (JsSIP)',
			connection_recovery_min_interval: 2,
			connection_recovery_max_interval: 30,
		});
		this.ua = ua;
		const mine = () => this.ua === ua;
		ua.on('registered', () => mine() && this.set('registered',
			'as ' + username + '@' + domain));
		ua.on('unregistered', () => mine() && this.state !== 'failed' &&
			this.set('unregistered'));
		// A refused registration (a wrong password, say) or a server that
		// cannot be reached at all ends the attempt: the user fixes the
		// form and connects again, rather than watching endless retries.
		const fail = (why) => {
			this.ua = null;
			try {
				ua.stop();
			} catch (e) {
				/* already stopped */
			}
			this.set('failed', why);
		};
		let connected = false;
		ua.on('connected', () => {
			connected = true;
		});
		ua.on('registrationFailed', (e) => mine() && fail(e.cause +
			(e.response ? ' (' + e.response.status_code + ' ' +
				e.response.reason_phrase + ')' : '')));
		ua.on('disconnected', (e) => {
			if (!mine())
				return;
			if (!connected)
				fail('cannot connect to ' + wsUrl);
			else
				this.set('connecting', 'the WebSocket closed' +
					(e && e.code ? ' (' + e.code + ')' : '') +
					', reconnecting');
		});
		ua.on('newRTCSession', ({session, originator}) => {
			if (!mine())
				return;
			if (this.session && originator === 'remote') {
				session.terminate({status_code: 486});
				return;
			}
			this.attach(session);
			if (originator === 'remote')
				this.setCall('incoming', 'from ' +
					(session.remote_identity.display_name ||
						session.remote_identity.uri.toString()));
		});
		ua.start();
	},

	stop() {
		const ua = this.ua;
		this.ua = null;
		if (ua) {
			try {
				ua.terminateSessions();
				ua.stop();
			} catch (e) {
				/* already stopped */
			}
		}
		if (this.session || this.callState !== 'idle')
			this.setCall('idle');
		this.who = null;
		this.set('idle');
	},

	attach(session) {
		this.session = session;
		this.muted = false;
		const remote = document.getElementById('remote');
		const hook = (pc) => pc.addEventListener('track', (e) => {
			remote.srcObject = e.streams[0] || new MediaStream([e.track]);
			remote.play().catch(() => {});
		});
		if (session.connection)
			hook(session.connection);
		session.on('peerconnection', (e) => hook(e.peerconnection));
		const same = () => this.session === session;
		session.on('progress', () => same() &&
			session.direction === 'outgoing' && this.setCall('ringing'));
		const peer = () => {
			const r = session.remote_identity;
			return 'with ' + (r.display_name ? r.display_name + ' <' +
				r.uri + '>' : String(r.uri));
		};
		session.on('accepted', () => same() &&
			this.setCall('in-call', peer()));
		session.on('confirmed', () => same() &&
			this.setCall('in-call', peer()));
		session.on('ended', (e) => same() && this.setCall('ended',
			e.cause + (e.originator === 'remote' ? ' (by the other side)' :
				'')));
		session.on('failed', (e) => same() && this.setCall('ended',
			e.cause + (e.message && e.message.status_code ? ' (' +
				e.message.status_code + ' ' + e.message.reason_phrase + ')' :
				'')));
	},

	target(t) {
		t = t.trim();
		if (/^sips?:/i.test(t))
			return t;
		if (t.includes('@'))
			return 'sip:' + t;
		return 'sip:' + t + '@' + this.who.domain;
	},

	call(t) {
		if (this.state !== 'registered')
			throw new Error('Register first');
		if (this.session)
			throw new Error('A call is already in progress');
		const uri = this.target(t);
		this.setCall('calling', 'to ' + uri);
		try {
			this.ua.call(uri, {
				mediaConstraints: {audio: true, video: false},
				pcConfig: {iceServers: []},
				rtcOfferConstraints: {offerToReceiveAudio: true,
					offerToReceiveVideo: false},
			});
		} catch (e) {
			this.setCall('ended', e.message);
			throw e;
		}
	},
	answer() {
		if (this.session && this.callState === 'incoming')
			this.session.answer({mediaConstraints: {audio: true,
				video: false}, pcConfig: {iceServers: []}});
	},
	hangup() {
		if (this.session)
			this.session.terminate();
	},
	toggleMute() {
		if (!this.session)
			return;
		if (this.muted)
			this.session.unmute({audio: true});
		else
			this.session.mute({audio: true});
		this.muted = !this.muted;
		this.emit();
	},
	dtmf(d) {
		if (this.session && this.callState === 'in-call')
			this.session.sendDTMF(d, {transportType: 'RFC2833'});
	},
};
window.addEventListener('pagehide', () => phone.stop());

async function defaultWsUrl() {
	try {
		const r = await fetch('config.json', {cache: 'no-store'});
		const c = await r.json();
		const pick = location.protocol === 'https:' ?
			[['wss', c.sip_wss], ['ws', c.sip_ws]] :
			[['ws', c.sip_ws], ['wss', c.sip_wss]];
		for (const [scheme, l] of pick) {
			if (!l)
				continue;
			let host = l.host || location.hostname;
			if (host.includes(':') && !host.startsWith('['))
				host = '[' + host + ']';
			return scheme + '://' + host + ':' + l.port;
		}
	} catch (e) {
		/* no config: the user types the URL */
	}
	return '';
}

export async function render(ctx) {
	const {main} = ctx;
	const [eps, wsUrl] = await Promise.all([
		api.all('Endpoint/', {}, EP_CAP), defaultWsUrl()]);
	if (!ctx.alive())
		return;
	const domains = new Map(eps.map((e) => [e.username, e.domain]));

	const status = h('p', {id: 'phone-status', role: 'status'});
	const label = (e) => e.username + (e.alias && e.alias !== e.username ?
		' — ' + e.alias : '');
	const choose = [['', eps.length ? '— choose an endpoint —' :
		'No endpoint yet: create one first']];
	// With many endpoints, a box above the list narrows it down.
	const filterBox = eps.length > 12 ? field({name: 'endpoint_filter',
		label: 'Find an endpoint', type: 'search',
		placeholder: 'part of a username or alias',
		help: eps.length + ' endpoints' + (eps.length >= EP_CAP ?
			' (the first ' + EP_CAP + ')' : '')}) : null;
	const reg = h('form', {id: 'phone-register', class: 'card',
		novalidate: true, 'aria-labelledby': 'reg-h'},
	h('h2', {id: 'reg-h', text: 'Register'}),
	h('p', {class: 'form-error', role: 'alert', hidden: true}),
	filterBox,
	field({name: 'endpoint', label: 'Endpoint', type: 'select',
		options: choose.concat(eps.map((e) => [e.username, label(e)])),
		value: phone.who ? phone.who.username : ''}),
	field({name: 'password', label: 'Its password', type: 'password',
		autocomplete: 'new-password', // never a saved login's password
		help: 'Used to register, never stored.'}),
	field({name: 'ws_url', label: 'WebSocket URL', value: wsUrl,
		placeholder: 'wss://host:port',
		help: wsUrl ? 'From this server\'s sip_ws / sip_wss listener.' :
			'This server has no sip_ws or sip_wss listener configured.'}),
	status,
	h('div', {class: 'actions'},
		h('button', {type: 'submit', id: 'phone-connect'}, 'Connect'),
		h('button', {type: 'button', id: 'phone-disconnect',
			class: 'secondary', onclick: () => phone.stop()},
		'Disconnect')));
	if (filterBox) {
		const sel = reg.elements.endpoint;
		reg.elements.endpoint_filter.addEventListener('input', (ev) => {
			const q = ev.target.value.trim().toLowerCase();
			const keep = sel.value;
			const match = eps.filter((e) => !q ||
				e.username.toLowerCase().includes(q) ||
				(e.alias || '').toLowerCase().includes(q));
			const n = match.length;
			const head = q ? '— ' + n + (n === 1 ? ' match' : ' matches') +
				' —' : choose[0][1];
			clear(sel).append(h('option', {value: '', text: head}),
				...match.map((e) => h('option', {value: e.username,
					text: label(e)})));
			sel.value = match.some((e) => e.username === keep) ? keep :
				match.length === 1 ? match[0].username : '';
		});
	}
	onSubmit(reg, async () => {
		const username = reg.elements.endpoint.value;
		const password = reg.elements.password.value;
		const url = reg.elements.ws_url.value.trim();
		const details = {};
		if (!username)
			details.endpoint = 'Choose an endpoint';
		if (!password)
			details.password = 'Type the endpoint\'s password';
		if (!/^wss?:\/\/./i.test(url))
			details.ws_url = 'A ws:// or wss:// URL';
		if (Object.keys(details).length) {
			showErrors(reg, {message: 'Check the fields below', details});
			return;
		}
		reg.elements.password.value = '';
		await phone.start({wsUrl: url, username,
			domain: domains.get(username), password});
	});

	const callState = h('p', {id: 'call-state', role: 'status',
		'aria-live': 'polite'});
	const dial = h('button', {type: 'submit', id: 'phone-dial'}, 'Call');
	const hang = h('button', {type: 'button', id: 'phone-hangup',
		class: 'danger', onclick: () => phone.hangup()}, 'Hang up');
	const answer = h('button', {type: 'button', id: 'phone-answer',
		onclick: () => phone.answer()}, 'Answer');
	const mute = h('button', {type: 'button', id: 'phone-mute',
		class: 'secondary', 'aria-pressed': 'false',
		onclick: () => phone.toggleMute()}, 'Mute');
	const keys = h('div', {class: 'keypad', role: 'group',
		'aria-label': 'Keypad (DTMF)'},
	[...'123456789*0#'].map((d) => h('button', {type: 'button',
		class: 'secondary', 'data-dtmf': d,
		'aria-label': 'Send DTMF ' + d,
		onclick: () => phone.dtmf(d)}, d)));
	const call = h('form', {id: 'phone-call', class: 'card',
		novalidate: true, 'aria-labelledby': 'call-h'},
	h('h2', {id: 'call-h', text: 'Call'}),
	h('p', {class: 'form-error', role: 'alert', hidden: true}),
	field({name: 'target', label: 'Endpoint, SIP URI or number',
		placeholder: 'bob, sip:bob@example.com or +14155550100',
		autocomplete: 'off'}),
	callState,
	h('div', {class: 'actions'}, dial, answer, hang, mute),
	keys,
	h('p', {class: 'help'}, 'Another endpoint\'s username rings its ' +
		'phones; a number or an application goes the way any phone\'s ' +
		'call would. While it lasts, ',
	h('a', {href: '#/calls', text: 'see it in the calls page'}),
	' (this phone stays registered).'));
	onSubmit(call, async () => {
		const t = call.elements.target.value;
		if (!t.trim()) {
			showErrors(call, {message: 'Whom to call?',
				details: {target: 'Type an endpoint, a SIP URI or a ' +
					'number'}});
			return;
		}
		phone.call(t);
	});

	function paint() {
		status.dataset.state = phone.state;
		status.className = 'state ' + phone.state;
		status.textContent = STATE_TEXT[phone.state] +
			(phone.detail ? ': ' + phone.detail : '');
		callState.dataset.state = phone.callState;
		callState.className = 'state call-' + phone.callState;
		callState.textContent = CALL_TEXT[phone.callState] +
			(phone.callDetail ? ': ' + phone.callDetail : '');
		const registered = phone.state === 'registered';
		const inCall = !!phone.session;
		dial.disabled = !registered || inCall;
		hang.disabled = !inCall;
		answer.hidden = phone.callState !== 'incoming';
		mute.disabled = phone.callState !== 'in-call';
		mute.setAttribute('aria-pressed', String(phone.muted));
		for (const b of keys.querySelectorAll('button'))
			b.disabled = phone.callState !== 'in-call';
	}
	const unsubscribe = phone.subscribe(paint);
	ctx.onLeave(unsubscribe);
	paint();

	main.append(h('div', {class: 'page-head'}, h('h1', {text: 'Phone'})),
		h('p', {class: 'help', text: 'Register this page as one of your ' +
			'endpoints and call from it: handy to test an application or ' +
			'a desk phone without installing anything. The browser asks ' +
			'for the microphone on the first call.'}),
		h('div', {class: 'two'}, reg, call));
	if (!wsUrl)
		toast('No SIP WebSocket listener: set sip_ws (see docs/console.md)',
			'error');
}
