// The hub's HTTP API, as the page uses it. Errors arrive as RFC 9457 problem documents; each
// becomes a HubError whose message is the hub's own explanation, shown to the user as is.

export class HubError extends Error {
  constructor(problem) {
    super(problem.detail || problem.title || `the hub answered ${problem.status}`);
    this.status = problem.status ?? 0;
    this.title = problem.title ?? "Error";
    this.field = problem.field;
  }
}

export class Hub {
  constructor(token, base = "") {
    this.token = token;
    this.base = base;
    // Milliseconds to add to this machine's clock to get the hub's (from its Date header).
    this.clockOffset = 0;
  }

  async request(method, path, { params, body, type, signal, accept } = {}) {
    const url = new URL(this.base + path, location.origin);
    for (const [k, v] of Object.entries(params ?? {})) {
      if (v !== undefined && v !== null) url.searchParams.set(k, v);
    }
    const headers = { Authorization: `Bearer ${this.token}`, Accept: accept ?? "application/json" };
    if (type) headers["Content-Type"] = type;
    let response;
    try {
      response = await fetch(url, { method, headers, body, signal, cache: "no-store" });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new HubError({ status: 0, title: "Hub unreachable", detail: "the hub cannot be reached; check the connection and try again" });
    }
    this.noteClock(response);
    return response;
  }

  noteClock(response) {
    const date = Date.parse(response.headers.get("date") ?? "");
    // Whole seconds only, so only a skew of several seconds is worth correcting.
    if (Number.isFinite(date)) this.clockOffset = date - Date.now();
  }

  // The time to claim as client_time: the hub refuses one more than 300 s from its clock.
  now() {
    return new Date(Date.now() + (Math.abs(this.clockOffset) > 30_000 ? this.clockOffset : 0));
  }

  async json(method, path, options) {
    const response = await this.request(method, path, options);
    return answer(response);
  }

  get(path, params) {
    return this.json("GET", path, { params });
  }

  // Every page of a cursor-paged list, from `cursor` on; answers the items and the last cursor.
  async all(path, params = {}, cursorOf = (item) => item.cursor) {
    const items = [];
    let cursor = params.cursor;
    for (;;) {
      const page = await this.get(path, { ...params, cursor, limit: 1000 });
      items.push(...page.items);
      if (page.items.length) cursor = cursorOf(page.items[page.items.length - 1]);
      if (page.next === null || page.next === undefined || !page.items.length) break;
      cursor = page.next;
    }
    return { items, cursor };
  }

  submit(compact) {
    return this.json("POST", "/api/v1/submissions", { body: compact, type: "application/jose" });
  }

  // The receipt, waiting up to `wait` seconds for a checkpoint to cover the entry; null while
  // none does yet (the hub answers 202 then).
  async receipt(id, wait = 5) {
    const response = await this.request("GET", `/api/v1/submissions/${encodeURIComponent(id)}/receipt`, { params: { wait } });
    if (response.status === 202) return null;
    return answer(response);
  }
}

async function answer(response) {
  let body = null;
  const text = await response.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new HubError(body && typeof body === "object" ? { status: response.status, ...body } : { status: response.status, detail: text.slice(0, 300) || response.statusText });
  }
  return body;
}

export async function publicText(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new HubError({ status: response.status, detail: `${path} answered ${response.status}` });
  return response.text();
}
