// Helpers for the practice journeys: reaching controls with the keyboard, building a session,
// answering the item on screen (by keyboard shortcuts or through the plain forms), reading the
// demo accounts printed by `myqcm seed --demo`.
//
// Every wait is on a URL, a selector or a navigation, never on a delay.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { signIn } from './app.mjs';
import { urlFor } from './browser.mjs';

/** The learner-visible subject names of the demo bank (French) and of the hostile fixture. */
export const CARDIO = /Cardiologie|Cardiology|أمراض القلب/;
export const XSS_SUBJECT = /Sécurité \(essai\)|Security \(test\)|الأمان/;

/** `{ email, password }` of a demo account (`student`, `author`, …) from the seed's output. */
export async function demoAccount(role) {
  const log = await readFile(process.env.MYQCM_E2E_SEED_LOG ?? '', 'utf8').catch(() => '');
  const m = new RegExp(`^\\s*${role}\\s+(\\S+)\\s+password:\\s+(\\S+)`, 'm').exec(log);
  assert.ok(m, `the demo seed printed no ${role} account (seed.log):\n${log}`);
  return { email: m[1], password: m[2] };
}

/** Whether the focused element matches `selector`. */
async function focusedMatches(page, selector) {
  return page.evaluate((sel) => {
    const el = document.activeElement;
    return Boolean(el && el !== document.body && el.matches(sel));
  }, selector);
}

/** Whether the focused element shows a focus ring (outline or box-shadow). */
async function focusVisible(page) {
  return page.evaluate(() => {
    const st = getComputedStyle(document.activeElement);
    return (st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) > 0) || st.boxShadow !== 'none';
  });
}

/**
 * Presses Tab until the focused element matches `selector` (fails after `max` presses): the
 * control is reachable by keyboard, is now focused, and shows that it is.
 */
export async function tabTo(page, selector, max = 80) {
  for (let i = 0; i < max && !(await focusedMatches(page, selector)); i += 1) {
    await page.keyboard.press('Tab');
  }
  assert.ok(await focusedMatches(page, selector), `${selector} not reached with ${max} Tab presses on ${page.url()}`);
  assert.ok(await focusVisible(page), `${selector} is focused without a visible focus ring on ${page.url()}`);
}

/** Moves a focused closed <select> to the option whose text matches `label`, with arrow keys. */
export async function chooseWithArrows(page, selector, label) {
  const { from, to } = await page.evaluate(
    ({ sel, src, flags }) => {
      const s = document.querySelector(sel);
      const re = new RegExp(src, flags);
      return { from: s.selectedIndex, to: [...s.options].findIndex((o) => re.test(o.textContent)) };
    },
    { sel: selector, src: label.source, flags: label.flags },
  );
  assert.ok(to >= 0, `no option matching ${label} in ${selector}`);
  const key = to > from ? 'ArrowDown' : 'ArrowUp';
  for (let i = 0; i < Math.abs(to - from); i += 1) await page.keyboard.press(key);
  const now = await page.$eval(selector, (s) => s.options[s.selectedIndex].textContent);
  assert.match(now, label, `${selector} did not move to ${label}`);
}

/** The value of the subject option whose name matches `label` on the builder page. */
export async function subjectValue(page, label) {
  const options = await page.$$eval('#subject option', (os) => os.map((o) => ({ v: o.value, t: o.textContent })));
  const hit = options.find((o) => label.test(o.t));
  assert.ok(hit, `no subject ${label} in the builder: ${JSON.stringify(options)}`);
  return hit.v;
}

/** The session id in a player or summary URL. */
export function sessionIdOf(url) {
  const m = /\/practice\/([0-9a-f-]{36})/.exec(url);
  assert.ok(m, `not a session URL: ${url}`);
  return m[1];
}

/**
 * Builds a session through the builder form with the mouse-free path of a plain form (fill,
 * check, submit): for the journeys that are not about the keyboard. Returns the session id.
 */
export async function buildSession(page, { subject = CARDIO, style = 'tutor', count = 5 } = {}) {
  if (!/\/practice(\?|$)/.test(page.url())) await page.goto(urlFor('/practice'));
  await page.selectOption('#subject', await subjectValue(page, subject));
  await page.check(`input[name="style"][value="${style}"]`);
  await page.fill('#item_count', String(count));
  await Promise.all([
    page.waitForURL(/\/practice\/[0-9a-f-]{36}$/),
    page.click('form[action="/practice"] button[type="submit"]'),
  ]);
  return sessionIdOf(page.url());
}

/** What the player shows: `open` (text answer), `choice` (options) or `none` (no answer form). */
export async function itemKind(page) {
  if ((await page.locator('#answer-form #answer-text').count()) > 0) return 'open';
  if ((await page.locator('#answer-form input[name="option"]').count()) > 0) return 'choice';
  return 'none';
}

/**
 * "Question n of N" as numbers; a case step past the requested count reads "Question n · the
 * clinical case continues" and gives `{ n, total: null, continues: true }`.
 */
export async function progressOf(page) {
  const text = await page.textContent('.practice-progress');
  const nums = (text ?? '').match(/\d+/g)?.map(Number) ?? [];
  if (nums.length === 1) {
    assert.match(text, /cas clinique|الحالة السريرية|clinical case/, `unexpected progress text: ${text}`);
    return { n: nums[0], total: null, continues: true };
  }
  assert.equal(nums.length, 2, `unexpected progress text: ${text}`);
  assert.ok(nums[0] <= nums[1], `never "n of fewer": ${text}`);
  return { n: nums[0], total: nums[1] };
}

/**
 * Answers the item on screen with the keyboard only: a text answer is reached with Tab, typed
 * and sent with Enter; options are toggled with their letter (A) and sent with Enter (the
 * player's shortcut). Resolves once the next page has loaded.
 */
export async function answerWithKeyboard(page, { text = 'je ne sais pas', key = 'a' } = {}) {
  const kind = await itemKind(page);
  assert.notEqual(kind, 'none', `no answer form on ${page.url()}`);
  if (kind === 'open') {
    await tabTo(page, '#answer-text');
    await page.keyboard.type(text);
  } else {
    await page.keyboard.press(key);
    assert.ok(
      await page.$eval('#answer-form input[name="option"][data-key="A"]', (i) => i.checked),
      `the ${key} shortcut did not select option A`,
    );
  }
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
  return kind;
}

/** Answers the item on screen through the plain form (first option, or a text). */
export async function answerWithForm(page, { text = 'je ne sais pas' } = {}) {
  const kind = await itemKind(page);
  assert.notEqual(kind, 'none', `no answer form on ${page.url()}`);
  if (kind === 'open') await page.fill('#answer-text', text);
  else await page.check('#answer-form input[name="option"] >> nth=0');
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click('#answer-form button[type="submit"]'),
  ]);
  return kind;
}

/** The visible text of <main>, for assertions on what a learner reads. */
export async function mainText(page) {
  return (await page.innerText('main')).replace(/\s+/g, ' ');
}

/**
 * Makes every pointer action on `page` throw until restore(): a journey that must be done with
 * the keyboard alone fails loudly if a click slips in.
 */
export function forbidPointer(page) {
  const saved = [];
  const block = (obj, name) => {
    saved.push([obj, name, obj[name]]);
    obj[name] = () => {
      throw new Error(`pointer action ${name}() during a keyboard-only journey`);
    };
  };
  for (const name of ['click', 'dblclick', 'tap', 'check', 'uncheck', 'hover', 'selectOption', 'dragAndDrop']) block(page, name);
  for (const name of ['click', 'dblclick', 'down', 'up', 'move', 'wheel']) block(page.mouse, name);
  const locator = page.locator.bind(page);
  saved.push([page, 'locator', page.locator]);
  page.locator = (...args) => {
    const l = locator(...args);
    for (const name of ['click', 'dblclick', 'tap', 'check', 'uncheck', 'hover', 'selectOption']) {
      l[name] = () => {
        throw new Error(`pointer action locator.${name}() during a keyboard-only journey`);
      };
    }
    return l;
  };
  return {
    restore() {
      for (const [obj, name, fn] of saved.reverse()) obj[name] = fn;
    },
  };
}

/** The TOTP secret (base32) the demo seed printed for a staff role (`author`, `reviewer`, `admin`). */
export async function demoTotpSecret(role) {
  const log = await readFile(process.env.MYQCM_E2E_SEED_LOG ?? '', 'utf8').catch(() => '');
  const m = new RegExp(`^\\s*${role}\\s+\\S+\\s+TOTP secret \\(base32, shown once\\):\\s+(\\S+)`, 'm').exec(log);
  assert.ok(m, `the demo seed printed no TOTP secret for ${role} (seed.log):\n${log}`);
  return m[1];
}

/**
 * A TOTP code for a demo staff account that no earlier sign-in of the suite used. The server
 * refuses a code whose 30 s step was already accepted (replay protection), and test files run
 * one after another in separate processes, so the last step used per role is kept in a file of
 * the artifacts directory; when the current step was used, this waits for the next one (at most
 * 30 s — the only delay in the suite, imposed by RFC 6238's step).
 */
export async function freshDemoTotp(role) {
  const { readFile: read, writeFile } = await import('node:fs/promises');
  const { totp } = await import('./app.mjs');
  const secret = await demoTotpSecret(role);
  const mark = `${process.env.MYQCM_E2E_ARTIFACTS ?? '/tmp'}/totp-step-${role}`;
  const last = Number(await read(mark, 'utf8').catch(() => '-1'));
  let step = Math.floor(Date.now() / 30_000);
  if (step <= last) {
    await new Promise((r) => setTimeout(r, (last + 1) * 30_000 - Date.now() + 250));
    step = Math.floor(Date.now() / 30_000);
  }
  await writeFile(mark, String(step));
  return totp(secret, step * 30_000 + 1_000);
}

/** Signs a demo staff account in: password, then a fresh TOTP step. */
export async function staffSignIn(page, role) {
  const { email, password } = await demoAccount(role);
  await signIn(page, email, password);
  await page.waitForSelector('#totp_code');
  await page.fill('#totp_code', await freshDemoTotp(role));
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/sign-in"] button[type="submit"]')]);
  assert.ok(!page.url().includes('/sign-in'), `${role} is signed in (now on ${page.url()})`);
}

/**
 * The demo admin creates a paid plan through the JSON API (session cookie + CSRF header) in a
 * page of `context`, signing in with a fresh TOTP step.
 */
export async function createPlan(context, { code, name, priceDzd, durationDays }) {
  const page = await context.newPage();
  const { email, password } = await demoAccount('admin');
  await signIn(page, email, password);
  await page.waitForSelector('#totp_code');
  await page.fill('#totp_code', await freshDemoTotp('admin'));
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/sign-in"] button[type="submit"]')]);
  const status = await page.evaluate(async ({ code, name, priceDzd, durationDays }) => {
    const session = await (await fetch('/api/v1/auth/session')).json();
    const res = await fetch('/api/v1/admin/plans', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf_token },
      body: JSON.stringify({ code, names: { fr: name, en: name, ar: name }, price_dzd: priceDzd, duration_days: durationDays, explanations: true }),
    });
    return res.status;
  }, { code, name, priceDzd, durationDays });
  assert.equal(status, 201, 'the paid plan is created');
  await page.close();
}
