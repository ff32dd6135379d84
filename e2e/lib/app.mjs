// Helpers for the account journeys: reading the mail folder, filling forms, checking pages.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { axeViolations, formatViolations, saveScreenshot, urlFor } from './browser.mjs';

/** A password the policy accepts. */
export const PASSWORD = 'une phrase de passe assez longue';

/** A fresh address for this run (sign-ups are rate-limited per IP: keep their number small). */
export function freshEmail(tag) {
  return `${tag}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}@example.dz`;
}

function mailDir() {
  const data = process.env.MYQCM_E2E_DATA_DIR;
  if (!data) throw new Error('MYQCM_E2E_DATA_DIR is not set: run through e2e/run.sh');
  return join(data, 'mail');
}

/** The text body of an .eml file written by the file mailer (7bit, quoted-printable or base64). */
export function mailText(raw) {
  const text = raw.replace(/\r\n/g, '\n');
  const split = text.indexOf('\n\n');
  const headers = text.slice(0, split);
  const body = text.slice(split + 2);
  const encoding = (/^Content-Transfer-Encoding:\s*(\S+)/im.exec(headers)?.[1] ?? '7bit').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const bytes = body.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

/** Waits for a mail to `to` whose text matches `pattern`; returns its decoded text (newest first). */
export async function waitForMail(to, pattern, { timeoutMs = 20_000, after = 0 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let names = [];
    try {
      names = (await readdir(mailDir())).filter((n) => n.endsWith('.eml'));
    } catch {
      names = [];
    }
    const found = [];
    for (const name of names) {
      const raw = await readFile(join(mailDir(), name), 'utf8');
      if (!raw.includes(to)) continue;
      const body = mailText(raw);
      if (pattern.test(body)) found.push(body);
    }
    if (found.length > after) return found[found.length - 1];
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no mail to ${to} matching ${pattern} within ${timeoutMs} ms`);
}

/** The link with a `#token=` in a mail's text. */
export function linkIn(text) {
  const m = /(https?:\/\/\S+#token=[A-Za-z0-9_-]+)/.exec(text);
  assert.ok(m, `no link in mail:\n${text}`);
  return m[1];
}

/** The 6-digit code in a verification mail. */
export function codeIn(text) {
  const m = /(?<!\d)(\d{6})(?!\d)/.exec(text);
  assert.ok(m, `no code in mail:\n${text}`);
  return m[1];
}

/** Asserts no serious or critical axe violation on the current page. */
export async function assertAccessible(page, label) {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `axe violations on ${label} (${page.url()}):\n${formatViolations(v)}`);
}

/** Navigates, then checks accessibility; returns the response. */
export async function visit(page, path, label = path) {
  const res = await page.goto(urlFor(path), { waitUntil: 'load' });
  await assertAccessible(page, label);
  return res;
}

/** Switches the language from the footer (a plain form). */
export async function useLanguage(page, lang) {
  await Promise.all([page.waitForNavigation(), page.click(`.lang-switch button[value="${lang}"]`)]);
  assert.equal(await page.getAttribute('html', 'lang'), lang);
}

/** Computed writing direction of the root element. */
export async function direction(page) {
  return page.evaluate(() => getComputedStyle(document.documentElement).direction);
}

/** Submits the sign-up form. */
export async function signUp(page, { name, email, password = PASSWORD }) {
  await page.goto(urlFor('/sign-up'));
  await page.fill('#display_name', name);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(/\/verify-email/), page.click('form[action="/sign-up"] button[type="submit"]')]);
}

/** Submits the sign-in form from the current or a fresh sign-in page. */
export async function signIn(page, email, password = PASSWORD, path = '/sign-in') {
  if (!page.url().includes('/sign-in')) await page.goto(urlFor(path));
  await page.fill('#email', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/sign-in"] button[type="submit"]')]);
}

/** The bytes of an RFC 4648 base32 text (spaces and padding ignored). */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    assert.ok(v >= 0, `not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The 6-digit TOTP code of `secret` (base32) now: HMAC-SHA1, 30 s steps (RFC 6238). */
export function totp(secret, now = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 1000 / 30)));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = (mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000;
  return String(bin).padStart(6, '0');
}

export { saveScreenshot, urlFor };
