// The REST API client: the same API, the same authentication as every
// other client (X-Auth-ID / X-Auth-Token headers, never in a URL). The
// credentials live in this tab's sessionStorage only.

const KEY = 'sipward.session';

export class ApiError extends Error {
	constructor(status, body, fallback) {
		const b = body && typeof body === 'object' ? body : {};
		super(b.message || b.error || fallback || 'HTTP ' + status);
		this.status = status;
		this.error = b.error || null;
		this.details = b.details && typeof b.details === 'object' ?
			b.details : {};
		this.body = b;
	}
}

export const session = {
	get() {
		try {
			const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
			return s && s.auth_id && s.auth_token ? s : null;
		} catch (e) {
			return null;
		}
	},
	set(s) {
		sessionStorage.setItem(KEY, JSON.stringify(s));
	},
	clear() {
		sessionStorage.removeItem(KEY);
	},
};

// Called with the error when the API answers 401 to a signed-in request.
let onUnauthorized = null;
export function setUnauthorizedHandler(fn) {
	onUnauthorized = fn;
}

function query(params) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params || {})) {
		if (v !== undefined && v !== null && v !== '')
			q.append(k, String(v));
	}
	const s = q.toString();
	return s ? '?' + s : '';
}

// request('GET', 'Endpoint/', {params, body, creds}) -> parsed JSON (or
// null for an empty body); throws ApiError for any non-2xx answer.
export async function request(method, rel, opts = {}) {
	const creds = opts.creds || session.get();
	if (!creds)
		throw new ApiError(401, {message: 'Not signed in'});
	const url = '/v1/Account/' + encodeURIComponent(creds.auth_id) + '/' +
		rel + query(opts.params);
	const headers = {
		'X-Auth-ID': creds.auth_id,
		'X-Auth-Token': creds.auth_token,
		'Accept': 'application/json',
	};
	const init = {method, headers, cache: 'no-store',
		credentials: 'omit', referrerPolicy: 'no-referrer'};
	if (opts.body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(opts.body);
	}
	let resp;
	try {
		resp = await fetch(url, init);
	} catch (e) {
		throw new ApiError(0, {message: 'Cannot reach the server (' +
			e.message + ')'});
	}
	const text = await resp.text();
	let body = null;
	if (text) {
		try {
			body = JSON.parse(text);
		} catch (e) {
			body = {message: text.slice(0, 200)};
		}
	}
	if (!resp.ok) {
		const err = new ApiError(resp.status, body);
		if (resp.status === 401 && !opts.creds && onUnauthorized)
			onUnauthorized(err);
		throw err;
	}
	return body;
}

export const get = (rel, params) => request('GET', rel, {params});
export const post = (rel, body) => request('POST', rel, {body});
export const del = (rel, body) => request('DELETE', rel, {body});

// Every page of a list (for pickers), up to max items.
export async function all(rel, params = {}, max = 1000) {
	const out = [];
	for (let offset = 0; out.length < max;) {
		const page = await get(rel, {...params, limit: 100, offset});
		out.push(...page.objects);
		if (!page.meta.next || !page.objects.length)
			break;
		offset += page.objects.length;
	}
	return out;
}
