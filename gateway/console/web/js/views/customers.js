// views/customers.js: the customer cache the list, thread and panel share
// (GET /api/customers/:id once per customer while the console is open).

const inflight = new Map();
const missing = new Set(); // ids that could not be read: not asked again

// forgetMissing lets unreadable customers be asked again (catching up).
export function forgetMissing() { missing.clear(); }

export function loadCustomer(api, store, id) {
  if (!id) return Promise.resolve(null);
  if (store.customers.has(id)) return Promise.resolve(store.customers.get(id));
  if (inflight.has(id)) return inflight.get(id);
  if (missing.has(id)) return Promise.resolve(null);
  const p = limited(() => api.get('/api/customers/' + encodeURIComponent(id)))
    .then((d) => { const c = d.customer || d; store.setCustomer(c); return c; })
    .catch(() => { missing.add(id); return null; })
    .finally(() => inflight.delete(id));
  inflight.set(id, p);
  return p;
}

// limited runs fn when fewer than MAX_READS reads are in flight: a list of
// a hundred new customers does not spend the API's per-minute budget in a
// burst.
const MAX_READS = 4;
let running = 0;
const waiting = [];
function limited(fn) {
  return new Promise((resolve, reject) => {
    const run = () => {
      running++;
      fn().then(resolve, reject).finally(() => {
        running--;
        const next = waiting.shift();
        if (next) next();
      });
    };
    if (running < MAX_READS) run();
    else waiting.push(run);
  });
}

// customerName is the customer's name, or the number while it is unknown.
export function customerName(store, conv) {
  const c = store.customers.get(conv.customerId);
  if (c && c.name) return c.name;
  if (c && c.phone) return c.phone;
  return conv.waId ? '+' + conv.waId : 'Customer';
}
