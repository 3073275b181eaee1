// api.js: the fetch wrapper. JSON in and out, the Bearer token, the
// contract's errors surfaced as ApiError (its text is what a person reads),
// and refresh rotation: both tokens live in this module's memory only
// (never localStorage, sessionStorage or cookies), the pair is rotated
// shortly before the access token expires and on a 401 TOKEN_EXPIRED (the
// request is retried once). A refresh that fails ends the session: the
// app goes back to the login page.

export class ApiError extends Error {
  constructor(status, body) {
    const b = body && typeof body === 'object' ? body : {};
    super(b.message || (status ? 'HTTP ' + status : 'network error'));
    this.status = status;
    this.code = b.code || (status ? 'HTTP_' + status : 'NETWORK_ERROR');
    this.fields = Array.isArray(b.errors) ? b.errors : [];
    this.requestId = b.requestId || '';
  }

  // text is the message with each field error, for display.
  get text() {
    const parts = [this.message];
    for (const f of this.fields) parts.push((f.field ? f.field + ': ' : '') + (f.message || f.code || ''));
    return parts.join(' — ');
  }
}

export class Api {
  constructor() {
    this.access = '';
    this.refreshToken = '';
    this.expiresAt = 0; // ms since epoch
    this.timer = 0;
    this.refreshing = null;
    this.onSession = () => {}; // a new pair: (accessToken)
    this.onLoggedOut = () => {}; // the session ended: (reason)
  }

  get accessToken() { return this.access; }
  get signedIn() { return this.access !== ''; }

  async login(email, password) {
    const data = await this.request('POST', '/api/auth/login', { email, password }, { anonymous: true });
    this.adopt(data);
    return data.user;
  }

  // logout revokes the session on the server (best effort) and forgets it.
  async logout() {
    const refreshToken = this.refreshToken;
    try {
      if (this.access) await this.request('POST', '/api/auth/logout', refreshToken ? { refreshToken } : {}, { noRefresh: true });
    } finally {
      this.forget();
    }
  }

  forget() {
    clearTimeout(this.timer);
    this.access = '';
    this.refreshToken = '';
    this.expiresAt = 0;
    this.refreshing = null;
  }

  adopt(data) {
    this.access = data.accessToken;
    this.refreshToken = data.refreshToken;
    this.expiresAt = Date.now() + (Number(data.expiresIn) || 900) * 1000;
    clearTimeout(this.timer);
    // Rotate at 80% of the lifetime (at least 5 s before expiry).
    const life = this.expiresAt - Date.now();
    const at = Math.max(1000, Math.min(life * 0.8, life - 5000));
    this.timer = setTimeout(() => { this.refresh().catch(() => {}); }, at);
    this.onSession(this.access);
  }

  // refresh rotates the pair; concurrent callers share one rotation.
  refresh() {
    if (!this.refreshToken) return Promise.reject(new ApiError(401, { code: 'UNAUTHORIZED', message: 'not signed in' }));
    if (this.refreshing) return this.refreshing;
    const token = this.refreshToken;
    this.refreshing = this.request('POST', '/api/auth/refresh-token', { refreshToken: token }, { anonymous: true })
      .then((data) => { this.adopt(data); return data; })
      .catch((err) => {
        if (err.status === 401 || err.status === 403) this.end(err.code);
        throw err;
      })
      .finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  end(reason) {
    if (!this.access && !this.refreshToken) return;
    this.forget();
    this.onLoggedOut(reason || 'UNAUTHORIZED');
  }

  get(path, query) { return this.request('GET', withQuery(path, query)); }
  post(path, body, opts) { return this.request('POST', path, body ?? {}, opts); }
  put(path, body) { return this.request('PUT', path, body); }
  patch(path, body) { return this.request('PATCH', path, body); }
  del(path) { return this.request('DELETE', path); }

  // request sends one API call and answers the envelope's data; errors
  // are ApiError. opts: anonymous (no token), noRefresh (no retry),
  // idempotencyKey.
  async request(method, path, body, opts = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (!opts.anonymous && this.access) headers.Authorization = 'Bearer ' + this.access;
    if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, { message: 'cannot reach the engine (' + e.message + ')' });
    }
    let payload = null;
    if (res.status !== 204) {
      const txt = await res.text();
      try { payload = txt ? JSON.parse(txt) : null; } catch { payload = { message: txt.slice(0, 200) }; }
    }
    if (res.ok) return payload && 'data' in payload ? payload.data : payload;
    const err = new ApiError(res.status, payload);
    if (res.status === 401 && !opts.anonymous) {
      if (err.code === 'TOKEN_EXPIRED' && !opts.noRefresh && this.refreshToken) {
        await this.refresh();
        return this.request(method, path, body, { ...opts, noRefresh: true });
      }
      this.end(err.code);
    }
    throw err;
  }
}

// blob reads a binary resource (media content) with the token; a 401
// TOKEN_EXPIRED rotates the pair and retries once.
Api.prototype.blob = async function blob(path, retried) {
  let res;
  try {
    res = await fetch(path, { headers: { Authorization: 'Bearer ' + this.access }, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, { message: 'cannot reach the engine (' + e.message + ')' });
  }
  if (res.ok) return res.blob();
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  const err = new ApiError(res.status, body);
  if (res.status === 401 && err.code === 'TOKEN_EXPIRED' && !retried) {
    await this.refresh();
    return this.blob(path, true);
  }
  throw err;
};

// upload posts one file as multipart/form-data (field `file`) and answers
// the envelope's data; a 401 TOKEN_EXPIRED rotates the pair and retries once.
Api.prototype.upload = async function upload(path, file, idempotencyKey, retried) {
  const form = new FormData();
  form.append('file', file, file.name);
  const headers = { Authorization: 'Bearer ' + this.access, Accept: 'application/json' };
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let res;
  try {
    res = await fetch(path, { method: 'POST', headers, body: form });
  } catch (e) {
    throw new ApiError(0, { message: 'cannot reach the engine (' + e.message + ')' });
  }
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (res.ok) return body && body.data;
  const err = new ApiError(res.status, body);
  if (res.status === 401 && err.code === 'TOKEN_EXPIRED' && !retried) {
    await this.refresh();
    return this.upload(path, file, idempotencyKey, true);
  }
  if (res.status === 401) this.end(err.code);
  throw err;
};

export function withQuery(path, query) {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? path + (path.includes('?') ? '&' : '?') + s : path;
}

// newKey is an Idempotency-Key for one user action (kept across its retries).
export function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
}
