// Practice journeys in a real browser (Debian chromium): a newcomer signs up, verifies the
// address from the mail folder, sets the study profile, builds a tutor session and answers five
// items with the keyboard alone, reads the summary and finds the session on the dashboard; the
// same pages in Arabic (computed direction rtl, screenshots) and English; an exam session that
// hides the key until the end; sign-out then Back; the whole loop with JavaScript off.
// axe-core runs on every page visited, in fr, ar and en: zero serious or critical violations.
// Hostile item content is in xss.test.mjs.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { collectErrors, launchBrowser, newContext } from '../lib/browser.mjs';
import {
  assertAccessible,
  direction,
  freshEmail,
  linkIn,
  saveScreenshot,
  signIn,
  signUp,
  urlFor,
  useLanguage,
  visit,
  waitForMail,
} from '../lib/app.mjs';
import {
  CARDIO,
  answerWithForm,
  answerWithKeyboard,
  buildSession,
  chooseWithArrows,
  forbidPointer,
  itemKind,
  mainText,
  progressOf,
  sessionIdOf,
  tabTo,
} from '../lib/practice.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

// One newcomer for the whole file: sign-ups are rate-limited per IP.
const learner = { name: 'Karim Clavier', email: freshEmail('karim') };

describe('tutor journey with the keyboard (fr)', { concurrency: false }, () => {
  test('sign up, verify, onboarding, five items by keyboard, summary, dashboard', async () => {
    const context = await newContext(browser, { locale: 'fr-FR' });
    const page = await context.newPage();
    const errors = collectErrors(page);

    await signUp(page, learner);
    const mail = await waitForMail(learner.email, /#token=/);
    await page.goto(linkIn(mail));
    await page.waitForURL(/\/sign-in\?verified=1/);
    await signIn(page, learner.email);
    await page.waitForURL(/\/onboarding$/);
    await page.selectOption('#year_of_study', '3');
    await Promise.all([page.waitForURL(/\/dashboard$/), page.click('form[action="/onboarding"] button[type="submit"]')]);

    // From here on, no pointer: Tab, Enter, arrows and the player's shortcuts only.
    const pointer = forbidPointer(page);
    await tabTo(page, 'header a[href="/practice"]');
    await Promise.all([page.waitForURL(/\/practice$/), page.keyboard.press('Enter')]);
    await assertAccessible(page, 'fr builder');
    await tabTo(page, '#subject');
    await chooseWithArrows(page, '#subject', CARDIO);
    await tabTo(page, 'input[name="style"]');
    assert.equal(await page.evaluate(() => document.activeElement.value), 'tutor', 'tutor is the default style');
    await tabTo(page, '#item_count');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('5');
    await Promise.all([page.waitForURL(/\/practice\/[0-9a-f-]{36}$/), page.keyboard.press('Enter')]);
    const id = sessionIdOf(page.url());

    // Five items; a clinical case begun among them runs to its last step past the count.
    const kinds = new Set();
    let answered = 0;
    while (!/\/summary$/.test(page.url())) {
      answered += 1;
      const { n, total, continues } = await progressOf(page);
      assert.equal(n, answered, 'progress');
      if (answered <= 5) assert.equal(total, 5, 'progress');
      else {
        assert.equal(continues, true, `item ${answered} past the count says the case continues`);
        assert.equal(await page.locator('.case').count(), 1, `item ${answered} past the count is not a case step`);
      }
      const kind = await itemKind(page);
      if (!kinds.has(kind)) await assertAccessible(page, `fr player (${kind}, before answering)`);
      await answerWithKeyboard(page);
      assert.match(page.url(), new RegExp(`/practice/${id}/answer$`));
      assert.match(await page.innerText('.feedback .grade'), /Juste|Faux|Non noté/);
      if (!kinds.has(kind)) await assertAccessible(page, `fr player (${kind}, after answering)`);
      kinds.add(kind);
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('n')]);
    }
    assert.ok(answered >= 5 && answered <= 9, `${answered} items answered`);
    assert.match(page.url(), new RegExp(`/practice/${id}/summary$`));
    assert.equal((await page.innerText('.answered')).trim(), `${answered} / ${answered}`);
    assert.match(await page.innerText('.percent-correct'), /^\d+ %$/);
    await assertAccessible(page, 'fr summary');

    await tabTo(page, 'main a[href="/dashboard"]');
    await Promise.all([page.waitForURL(/\/dashboard$/), page.keyboard.press('Enter')]);
    const row = page.locator(`li.session-row[data-session="${id}"]`);
    assert.equal(await row.count(), 1, 'the dashboard lists the session');
    assert.equal(await row.locator(`a[href="/practice/${id}/summary"]`).count(), 1);
    assert.match(await row.innerText(), new RegExp(`${answered}/5`));
    await assertAccessible(page, 'fr dashboard');
    pointer.restore();

    await visit(page, '/progress', 'fr progress');
    await visit(page, '/settings', 'fr settings');
    const seen = errors.stop();
    assert.deepEqual(seen, [], `console errors:\n${seen.join('\n')}`);
    await context.close();
  });
});

for (const [lang, locale, dir] of [['ar', 'ar-DZ', 'rtl'], ['en', 'en-GB', 'ltr']]) {
  describe(`practice pages in ${lang}`, { concurrency: false }, () => {
    test(`builder, player, feedback, summary, dashboard, progress, settings: ${dir}, axe`, async () => {
      const context = await newContext(browser, { locale });
      const page = await context.newPage();
      const check = async (label) => {
        assert.equal(await page.getAttribute('html', 'lang'), lang, `${label} lang`);
        assert.equal(await direction(page), dir, `${label}: computed direction of <html>`);
        assert.equal(await page.evaluate(() => getComputedStyle(document.body).direction), dir, `${label}: body`);
        await assertAccessible(page, `${lang} ${label}`);
        if (lang === 'ar') await saveScreenshot(page, `ar-practice-${label}`);
      };
      // The item keeps its own language and direction (a French item on an Arabic page is LTR).
      const itemLanguage = async (label) => {
        const { itemLang, itemDir } = await page.$eval('.stem', (el) => ({ itemLang: el.lang, itemDir: getComputedStyle(el).direction }));
        assert.match(itemLang, /^(fr|ar|en)$/, `${label}: the stem has no lang`);
        assert.equal(itemDir, itemLang === 'ar' ? 'rtl' : 'ltr', `${label}: the stem's direction`);
      };
      await signIn(page, learner.email);
      await useLanguage(page, lang);
      await page.goto(urlFor('/practice'));
      await check('builder');
      const id = await buildSession(page, { count: 2 });
      await check('player');
      await itemLanguage('player');
      await answerWithForm(page);
      assert.equal(await page.locator('.feedback .grade').count(), 1);
      await check('feedback');
      await itemLanguage('feedback');
      await Promise.all([page.waitForURL(new RegExp(`/practice/${id}$`)), page.click('a[data-shortcut="next"]')]);
      await Promise.all([page.waitForURL(new RegExp(`/practice/${id}/summary$`)), page.click(`form[action="/practice/${id}/finish"] button`)]);
      await check('summary');
      for (const path of ['/dashboard', '/progress', '/settings']) {
        await page.goto(urlFor(path));
        await check(path.slice(1));
      }
      await useLanguage(page, 'fr');
      await context.close();
    });
  });
}

describe('exam session', { concurrency: false }, () => {
  test('no key, grade or explanation until the end; then the summary shows the results', async () => {
    const context = await newContext(browser, { locale: 'fr-FR' });
    const page = await context.newPage();
    await signIn(page, learner.email);
    await page.goto(urlFor('/practice?style=exam'));
    assert.equal(await page.isChecked('input[name="style"][value="exam"]'), true, '?style=exam preselects exam');
    const id = await buildSession(page, { style: 'exam', count: 3 });
    const hidden = async (label) => {
      for (const sel of ['.feedback', '.grade', '.explanation', '.option-correct', '.option-wrong', 'a[data-shortcut="next"]']) {
        assert.equal(await page.locator(sel).count(), 0, `${label}: ${sel} shown during an exam`);
      }
      assert.doesNotMatch(await mainText(page), /\b(Juste|Faux)\b|bonne réponse|Réponse attendue/, `${label}: a verdict is shown`);
    };
    // Three items (a clinical case begun among them runs to its last step), then the summary.
    let answered = 0;
    while (!/\/summary$/.test(page.url())) {
      answered += 1;
      assert.match(page.url(), new RegExp(`/practice/${id}$`), 'an exam goes straight to the next item');
      assert.equal((await progressOf(page)).n, answered);
      await hidden(`item ${answered}`);
      if (answered <= 2) await assertAccessible(page, `fr exam player (item ${answered})`);
      await answerWithForm(page);
    }
    assert.ok(answered >= 3 && answered <= 7, `${answered} items answered`);
    assert.equal((await page.innerText('.answered')).trim(), `${answered} / ${answered}`);
    assert.match(await page.innerText('.percent-correct'), /^\d+ %$/, 'the summary shows the results');
    await assertAccessible(page, 'fr exam summary');
    // Per-item review (key and explanations): the summary always links to it.
    const review = page.locator(`main a[href^="/practice/${id}/review"]`);
    assert.ok((await review.count()) > 0, 'the summary links to the per-item review');
    await Promise.all([page.waitForNavigation(), review.first().click()]);
    assert.match(page.url(), new RegExp(`/practice/${id}/review$`));
    assert.ok((await page.locator('.review-item').count()) >= answered, 'every answered item is reviewed');
    assert.ok((await page.locator('.explanation').count()) > 0, 'the review shows the explanations');
    await assertAccessible(page, 'fr exam review');
    await context.close();
  });

  test('the summary of an exam still running reveals nothing', async () => {
    const context = await newContext(browser, { locale: 'fr-FR' });
    const page = await context.newPage();
    await signIn(page, learner.email);
    const id = await buildSession(page, { style: 'exam', count: 3 });
    await answerWithForm(page);
    const res = await page.goto(urlFor(`/practice/${id}/summary`));
    assert.equal(res.status(), 200);
    assert.equal((await page.innerText('.answered')).trim(), '1 / 2');
    assert.match(await page.innerText('.percent-correct'), /^— %$/, 'no score while the exam runs');
    assert.match(await page.innerText('.mean-score'), /^— %$/, 'no mean score while the exam runs');
    assert.equal(await page.locator('.per-kc').count(), 0, 'no per-KC results while the exam runs');
    await context.close();
  });
});

describe('sign-out', { concurrency: false }, () => {
  test('private pages are no-store; Back after sign-out shows none of them', async () => {
    const context = await newContext(browser, { locale: 'fr-FR' });
    const page = await context.newPage();
    await signIn(page, learner.email);
    const id = await buildSession(page, { count: 2 });
    const privatePages = [`/practice/${id}`, '/practice', '/dashboard'];
    for (const path of privatePages) {
      const res = await page.goto(urlFor(path));
      assert.equal(res.status(), 200, path);
      assert.match(res.headers()['cache-control'] ?? '', /no-store/, `${path} Cache-Control`);
    }
    await Promise.all([page.waitForURL(urlFor('/')), page.click('form[action="/sign-out"] button')]);
    for (const path of [...privatePages].reverse()) {
      await page.goBack({ waitUntil: 'load' });
      assert.equal(await page.locator('form[action="/sign-out"]').count(), 0, `Back to ${path} still looks signed in`);
      assert.equal(await page.locator('#answer-form, li.session-row, form[action="/practice"]').count(), 0,
        `Back to ${path} shows private content (${page.url()})`);
      await page.reload({ waitUntil: 'load' });
      assert.match(page.url(), /\/sign-in\?next=/, `reload after Back to ${path}`);
    }
    await context.close();
  });
});

describe('JavaScript disabled', { concurrency: false }, () => {
  test('sign in, build a session, answer through the forms, feedback, finish, summary', async () => {
    const context = await newContext(browser, { locale: 'fr-FR', javaScriptEnabled: false });
    const page = await context.newPage();
    await signIn(page, learner.email);
    await page.waitForURL(/\/dashboard$/);
    await page.goto(urlFor('/practice'));
    const id = await buildSession(page, { count: 3 });
    for (let i = 1; i <= 2; i += 1) {
      assert.deepEqual(await progressOf(page), { n: i, total: 3 });
      await answerWithForm(page);
      assert.match(await page.innerText('.feedback .grade'), /Juste|Faux|Non noté/);
      assert.ok((await page.locator('.feedback .explanation').count()) > 0, 'the explanation is shown');
      await Promise.all([page.waitForURL(new RegExp(`/practice/${id}$`)), page.click('a[data-shortcut="next"]')]);
    }
    await Promise.all([page.waitForURL(new RegExp(`/practice/${id}/summary$`)), page.click(`form[action="/practice/${id}/finish"] button`)]);
    assert.equal((await page.innerText('.answered')).trim(), '2 / 3');
    assert.match(await page.innerText('.percent-correct'), /^\d+ %$/);
    await context.close();
  });
});
