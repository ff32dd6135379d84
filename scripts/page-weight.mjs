#!/usr/bin/env node
// Page weight: for every learner page, the bytes transferred for its HTML, stylesheets and
// scripts, compressed as the server sends them to a browser (Accept-Encoding: br, gzip),
// excluding item images. Fails when a page is over the budget (100 KB).
//
//   node scripts/page-weight.mjs BASE_URL [EMAIL PASSWORD [YEAR]]
//
// With EMAIL and PASSWORD (a verified account) the signed-in pages are measured too, and a
// two-item tutor session is started to measure the player (before and after an answer) and the
// summary; an account without a year of study gets YEAR through the onboarding form first.
// The browser journeys (e2e/tests/page-weight.test.mjs) run it against the test server with the
// demo student. Exports measure() for that use.

import http from 'node:http';
import https from 'node:https';
import { pathToFileURL } from 'node:url';

export const BUDGET = 100 * 1024;
export const PUBLIC_PAGES = ['/', '/sign-up', '/sign-in', '/verify-email', '/password-reset', '/no-such-page'];
export const PRIVATE_PAGES = ['/dashboard', '/onboarding', '/settings', '/settings/delete', '/practice', '/progress'];

/** GET (or POST a form) without decompressing; returns status, headers and raw body bytes. */
/** The user agent the requests carry (`measure`'s `userAgent`; none by default). */
let agent = null;

function fetchRaw(url, { cookie = '', method = 'GET', form = null } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const body = form ? new URLSearchParams(form).toString() : null;
    const headers = { 'accept-encoding': 'br, gzip', accept: 'text/html,*/*', cookie };
    if (agent) headers['user-agent'] = agent;
    if (body) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin = u.origin;
    }
    const req = (u.protocol === 'https:' ? https : http).request(u, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

function mergeCookies(jar, res) {
  for (const c of res.headers['set-cookie'] ?? []) {
    const [kv] = c.split(';');
    const i = kv.indexOf('=');
    jar.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return [...jar].filter(([, v]) => v !== '').map(([k, v]) => `${k}=${v}`).join('; ');
}

async function decoded(res) {
  const zlib = await import('node:zlib');
  const enc = res.headers['content-encoding'];
  if (enc === 'br') return zlib.brotliDecompressSync(res.bytes).toString('utf8');
  if (enc === 'gzip') return zlib.gunzipSync(res.bytes).toString('utf8');
  return res.bytes.toString('utf8');
}

/** Same-origin stylesheet and script URLs referenced by a page. */
function assetsOf(html, base) {
  const urls = new Set();
  const re = /<(?:link[^>]+rel="stylesheet"[^>]*href|script[^>]+src)="([^"]+)"/g;
  for (const m of html.matchAll(re)) {
    const u = new URL(m[1], base);
    if (u.origin === new URL(base).origin) urls.add(u.href);
  }
  return [...urls];
}

/** Signs in through the page form; returns the cookie header. */
async function signIn(base, email, password) {
  const jar = new Map();
  const page = await fetchRaw(`${base}/sign-in`);
  let cookie = mergeCookies(jar, page);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await decoded(page))?.[1] ?? '';
  const res = await fetchRaw(`${base}/sign-in`, { cookie, method: 'POST', form: { _csrf: csrf, email, password } });
  if (res.status !== 303) throw new Error(`sign-in for the page weight failed: ${res.status}`);
  cookie = mergeCookies(jar, res);
  return cookie;
}

const field = (html, name) => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)?.[1] ?? '';

/**
 * The practice pages need a session: starts a tutor session of two items through the builder
 * form, then measures the player, the player after an answer (feedback) and the summary.
 */
const firstSubject = (html) => /<select id="subject" name="subject"[^>]*>\s*<option value="([^"]+)"/.exec(html)?.[1];

/** An account whose builder offers no subject (no year of study yet) gets `year` by onboarding. */
async function ensureYear(base, cookie, year) {
  const builder = await decoded(await fetchRaw(`${base}/practice`, { cookie }));
  if (firstSubject(builder) || !year) return;
  const onboarding = await decoded(await fetchRaw(`${base}/onboarding`, { cookie }));
  const form = { _csrf: field(onboarding, '_csrf'), year_of_study: String(year) };
  const saved = await fetchRaw(`${base}/onboarding`, { cookie, method: 'POST', form });
  if (saved.status !== 303) throw new Error(`page weight: onboarding failed (${saved.status})`);
}

async function measureSession(base, cookie, run) {
  const builder = await decoded(await fetchRaw(`${base}/practice`, { cookie }));
  const subject = firstSubject(builder);
  if (!subject) throw new Error('page weight: the builder offers no subject (no year of study? pass YEAR)');
  const form = { _csrf: field(builder, '_csrf'), subject, style: 'tutor', item_count: '2' };
  const created = await fetchRaw(`${base}/practice`, { cookie, method: 'POST', form });
  const player = created.headers.location;
  if (created.status !== 303 || !player) throw new Error(`page weight: no session started (${created.status})`);
  const html = await run(player, cookie, { label: '/practice/{id}' });
  const option = /name="option" value="([^"]+)"/.exec(html)?.[1];
  const answer = { _csrf: field(html, '_csrf'), served_id: field(html, 'served_id'), ...(option ? { option } : { text: 'x' }) };
  await run(`${player}/answer`, cookie, { label: '/practice/{id}/answer', method: 'POST', form: answer });
  await run(`${player}/summary`, cookie, { label: '/practice/{id}/summary' });
  await fetchRaw(`${base}${player}/finish`, { cookie, method: 'POST', form: { _csrf: field(html, '_csrf') } });
  await run(`${player}/review`, cookie, { label: '/practice/{id}/review' });
}

/** Measures every page; returns [{ path, status, html, assets, total }]. */
export async function measure(base, { email, password, year, userAgent = null } = {}) {
  agent = userAgent;
  const rows = [];
  const run = async (path, cookie, { label = path, method = 'GET', form = null } = {}) => {
    const res = await fetchRaw(`${base}${path}`, { cookie, method, form });
    const html = await decoded(res);
    let assets = 0;
    for (const a of assetsOf(html, `${base}${path}`)) assets += (await fetchRaw(a, { cookie })).bytes.length;
    rows.push({ path: label, status: res.status, html: res.bytes.length, assets, total: res.bytes.length + assets });
    return html;
  };
  for (const p of PUBLIC_PAGES) await run(p, '');
  if (email && password) {
    const cookie = await signIn(base, email, password);
    await ensureYear(base, cookie, year);
    for (const p of PRIVATE_PAGES) await run(p, cookie);
    await measureSession(base, cookie, run);
  }
  return rows;
}

async function main() {
  const [base, email, password, year] = process.argv.slice(2);
  if (!base) {
    console.error('usage: node scripts/page-weight.mjs BASE_URL [EMAIL PASSWORD [YEAR]]');
    process.exit(64);
  }
  const rows = await measure(base.replace(/\/+$/, ''), { email, password, year });
  let over = 0;
  for (const r of rows) {
    const flag = r.total > BUDGET ? '  OVER BUDGET' : '';
    if (flag) over += 1;
    console.log(`${String(r.total).padStart(7)} B  (html ${r.html}, css+js ${r.assets})  ${r.status} ${r.path}${flag}`);
  }
  console.log(`budget ${BUDGET} B per page; ${over} over`);
  process.exit(over ? 1 : 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
