// Staff console in a real browser. The demo author signs in with the TOTP code computed from the
// secret the demo seed printed, writes a QCM whose stem and options carry stored-XSS payloads,
// adds an image (a PNG generated here) through the editor's plain upload form, previews it and
// submits it for review; the demo reviewer finds it in the queue, sees the payload as inert text
// (no dialog, no script or event handler in the page), approves it, and the queue no longer
// holds it; the demo student then gets it in a practice session, sees the image and no payload
// runs; the reviewer opens the item's quality analysis and the quality alerts, the author the
// earnings page, the admin the jobs, accounts, step-up and withdrawals pages. axe-core (serious
// and critical) runs on every staff page visited, in French and in Arabic (computed direction
// rtl).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { collectErrors, launchBrowser, newContext } from '../lib/browser.mjs';
import { assertAccessible, direction, signIn, urlFor, useLanguage, visit } from '../lib/app.mjs';
import { deflateSync } from 'node:zlib';
import { XSS_SUBJECT, answerWithForm, buildSession, demoAccount, staffSignIn } from '../lib/practice.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

// In the hostile fixture's course (e2e-xss-c1), so the student's session on that subject serves
// it; "Énoncé piégé numéro" is what xss.test.mjs expects of every stem of that subject.
const STEM = 'XSS-E2E Énoncé piégé numéro quatre <img src=x onerror=alert(1)> Quelle est la cause la plus fréquente ? <script>alert(2)</script>';
const COURSE = 'e2e-xss-c1';
const KC = 'kc-e2e-xss';
const IMAGE_ALT = 'Schéma <b>piégé</b> onerror=alert(4)';

/** A short course text for the generation request. */
const COURSE_TEXT = "L'hypertension artérielle se définit par une pression supérieure à 140/90 mmHg.\n"
  + 'La mesure ambulatoire sur 24 heures confirme le diagnostic.\n'
  + 'Les complications touchent le cœur, le rein, le cerveau et la rétine.\n';

/**
 * With a model configured: the author uploads a course text on /author/generate, follows the
 * request page until its drafts are listed, and finds the tokens in the usage table.
 */
async function askForDrafts(author) {
  await visit(author, '/author', 'fr author list (AI link)');
  assert.ok(await author.$('a[href="/author/generate"]'), 'the author list links the generation page');
  await visit(author, '/author/generate', 'fr generate form');
  await author.setInputFiles('#file', { name: 'cours.txt', mimeType: 'text/plain', buffer: Buffer.from(COURSE_TEXT) });
  await author.fill('#course', 'cardio-hta');
  await author.fill('#kcs', 'kc-cardio-hta-def');
  await author.fill('#qcm', '2');
  await Promise.all([
    author.waitForURL(/\/author\/generate\/[0-9a-f-]{36}$/),
    author.click('form[action="/author/generate"] button[type="submit"]'),
  ]);
  await assertAccessible(author, 'fr generation request');
  // The page follows the job live (or by its meta refresh); reload until the drafts are listed.
  let drafts = 0;
  for (let i = 0; i < 60 && drafts === 0; i += 1) {
    drafts = (await author.$$('main a[href^="/author/items/"]')).length;
    if (drafts === 0) {
      await author.waitForTimeout(500);
      await author.reload({ waitUntil: 'load' });
    }
  }
  assert.equal(drafts, 2, 'the request page lists the two drafts');
  await assertAccessible(author, 'fr generation request (done)');
  await visit(author, '/author/generate', 'fr generate form (usage)');
  const used = Number((await author.textContent('[data-usage-today]')).replace(/\D/g, ''));
  assert.ok(used > 0, `the usage table counts today's tokens: ${used}`);
}

/** Script elements (but the page's own script file), event-handler attributes or javascript: URLs inside <main>. */
async function activeMarkup(page) {
  return page.evaluate(() => {
    const found = [];
    for (const el of document.querySelectorAll('main *')) {
      // The page's own script file (the player's shortcuts) is the only script allowed.
      const ownScript = /^\/static\/[\w.-]+\.js$/.test(el.getAttribute('src') ?? '') && !el.textContent.trim();
      if (el.tagName.toLowerCase() === 'script' && !ownScript) found.push(`script ${el.outerHTML.slice(0, 80)}`);
      for (const a of el.attributes) {
        if (/^on/i.test(a.name)) found.push(`${el.tagName}[${a.name}]`);
        if (/^\s*javascript:/i.test(a.value)) found.push(`${el.tagName}[${a.name}=javascript:]`);
      }
    }
    return found;
  });
}

/** A small valid PNG (RGB, a gradient), built here: signature, IHDR, IDAT (zlib), IEND. */
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < height; y += 1) {
    rows.push(0); // no filter
    for (let x = 0; x < width; x += 1) rows.push((x * 10) & 0xff, (y * 15) & 0xff, 200);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The uploaded image is in `scope`, served from the media route, decoded by the browser. */
async function assertImageShown(page, scope, label) {
  const img = page.locator(`${scope} img[src^="/api/v1/media/"]`);
  assert.equal(await img.count(), 1, `${label}: one image from the media route`);
  await img.evaluate((el) => (el.complete ? null : new Promise((ok) => { el.onload = ok; el.onerror = ok; })));
  assert.ok(await img.evaluate((el) => el.naturalWidth === 24 && el.naturalHeight === 16), `${label}: the image loads`);
  assert.equal(await img.getAttribute('alt'), IMAGE_ALT, `${label}: the description is plain text`);
}

/**
 * The demo student builds a session on the hostile subject and answers until the approved item
 * comes: its image is shown, its payload is inert.
 */
async function learnerGetsTheItem(browser, dialogs) {
  const lctx = await newContext(browser, { locale: 'fr-FR' });
  const page = await lctx.newPage();
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  const errors = collectErrors(page);
  const student = await demoAccount('student');
  await signIn(page, student.email, student.password);
  await page.goto(urlFor('/practice'));
  if (await page.locator('#subject').count() === 0) {
    await page.goto(urlFor('/onboarding'));
    await page.selectOption('#year_of_study', '3');
    await Promise.all([page.waitForURL(/\/dashboard$/), page.click('form[action="/onboarding"] button[type="submit"]')]);
    await page.goto(urlFor('/practice'));
  }
  await buildSession(page, { subject: XSS_SUBJECT, style: 'tutor', count: 4 });
  let found = false;
  for (let i = 0; i < 4 && !found; i += 1) {
    found = (await page.innerText('main .stem')).includes('XSS-E2E');
    if (found) break;
    await answerWithForm(page);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('a[data-shortcut="next"]')]);
  }
  assert.ok(found, 'the approved item reaches the learner');
  assert.match(await page.innerText('main .stem'), /<img src=x onerror=alert\(1\)>/, 'the payload is shown as text');
  await assertImageShown(page, 'main .stem', 'learner player');
  assert.deepEqual(await activeMarkup(page), [], 'the player holds no active markup');
  await answerWithForm(page);
  await assertImageShown(page, 'main .stem', 'learner feedback');
  assert.deepEqual(await activeMarkup(page), [], 'the feedback holds no active markup');
  assert.deepEqual(errors.stop(), [], 'no console error on the learner pages');
  await lctx.close();
}

describe('staff console', () => {
  test('author writes, reviewer approves, staff pages are accessible in fr and ar', async () => {
    const dialogs = [];
    const ctx = await newContext(browser);

    // ---- author
    const author = await ctx.newPage();
    author.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
    const authorErrors = collectErrors(author);
    await staffSignIn(author, 'author');
    await visit(author, '/author', 'fr author list');
    await visit(author, '/author/cases/new', 'fr clinical case editor (new)');
    await visit(author, '/author/items/new', 'fr author editor (new)');
    await author.check('input[name="kind"][value="qcm"]');
    const course = await author.$eval('#course', (s, c) => [...s.options].find((o) => o.value === c)?.value, COURSE);
    assert.equal(course, COURSE, 'the editor offers the hostile fixture\'s course (imported by run.sh)');
    await author.selectOption('#course', course);
    await author.fill('#stem', STEM);
    const options = ['Hypertension essentielle <svg onload=alert(3)>', 'Phéochromocytome', 'Coarctation', 'Hyperaldostéronisme'];
    for (const [i, text] of options.entries()) {
      await author.fill(`#option_text_${i}`, text);
    }
    await author.check('input[name="option_correct_0"]');
    await author.fill('#explanation', 'La forme essentielle représente plus de 90 % des cas.');
    await author.check(`input[name="kcs"][value="${KC}"]`);
    // The image: stored through the plain multipart form, its reference appended to the stem.
    await author.setInputFiles('#image', { name: 'schema.png', mimeType: 'image/png', buffer: png(24, 16) });
    await author.fill('#image_alt', IMAGE_ALT);
    await Promise.all([
      author.waitForNavigation({ waitUntil: 'load' }),
      author.click('button[name="intent"][value="image"]'),
    ]);
    const stem = await author.inputValue('#stem');
    assert.match(stem, /^XSS-E2E [^]*\n\n!\[Schéma <b>piégé<\/b> onerror=alert\(4\)\]\(\/api\/v1\/media\/[0-9a-f-]{36}\)$/, stem);
    assert.equal(await author.inputValue('#option_text_1'), options[1], 'what was typed is kept');
    await assertImageShown(author, '#preview', 'author preview');
    await assertAccessible(author, 'fr author editor (image added)');
    await Promise.all([
      author.waitForURL(/\/author\/items\/[0-9a-f-]{36}/),
      author.click('button[name="intent"][value="save"]'),
    ]);
    const itemId = /\/author\/items\/([0-9a-f-]{36})/.exec(author.url())[1];
    await assertImageShown(author, '#preview', 'saved draft preview');
    await assertAccessible(author, 'fr author editor (saved draft)');
    assert.deepEqual(await activeMarkup(author), [], 'the saved draft page holds no active markup');
    await Promise.all([
      author.waitForNavigation({ waitUntil: 'load' }),
      author.click(`form[action="/author/items/${itemId}/submit"] button[type="submit"]`),
    ]);
    if (process.env.MYQCM_E2E_LLM) await askForDrafts(author);
    // The author's earnings: nothing approved yet, so the balance is zero and says so.
    await visit(author, '/earnings', 'fr earnings');
    assert.ok(await author.$('#earnings-balance'), 'the balance is shown');
    assert.deepEqual(authorErrors.stop(), [], 'no console error on the author pages');

    // ---- reviewer (own context: another account)
    const rctx = await newContext(browser);
    const reviewer = await rctx.newPage();
    reviewer.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
    const reviewerErrors = collectErrors(reviewer);
    await staffSignIn(reviewer, 'reviewer');
    await visit(reviewer, '/review', 'fr review queue');
    assert.ok(await reviewer.$(`a[href="/review/items/${itemId}"]`), 'the submitted item is in the queue');
    await visit(reviewer, `/review/items/${itemId}`, 'fr review item (diff and preview)');
    assert.ok((await reviewer.textContent('main')).includes('XSS-E2E'), 'the stem is shown');
    // The item's quality analysis, linked from the review page: nobody answered it yet.
    await Promise.all([
      reviewer.waitForURL(new RegExp(`/review/items/${itemId}/quality$`)),
      reviewer.click(`main a[href="/review/items/${itemId}/quality"]`),
    ]);
    await assertAccessible(reviewer, 'fr item quality (no answers)');
    assert.ok(await reviewer.$('main .empty-state'), 'the analysis says no answer was given yet');
    await visit(reviewer, '/review', 'fr review queue (quality links)');
    await Promise.all([
      reviewer.waitForURL(/\/review\/alerts$/),
      reviewer.click('main a[href="/review/alerts"]'),
    ]);
    await assertAccessible(reviewer, 'fr quality alerts');
    await visit(reviewer, `/review/items/${itemId}`, 'fr review item (back)');
    assert.deepEqual(await activeMarkup(reviewer), [], 'the review page holds no active markup');
    await Promise.all([
      reviewer.waitForNavigation({ waitUntil: 'load' }),
      reviewer.click('button[name="decision"][value="approve"]'),
    ]);
    await visit(reviewer, '/review', 'fr review queue (after approval)');
    assert.equal(await reviewer.$(`a[href="/review/items/${itemId}"]`), null, 'the approved item left the queue');
    await visit(reviewer, '/review/reports', 'fr report triage');
    if (process.env.MYQCM_E2E_LLM) {
      // With a model configured: the assisted QROC grading page, linked from the queue.
      await visit(reviewer, '/review', 'fr review queue (AI links)');
      assert.ok(await reviewer.$('a[href="/review/grades"]'), 'the queue links the assisted grades');
      const res = await visit(reviewer, '/review/grades', 'fr assisted QROC grades');
      assert.equal(res.status(), 200);
      assert.equal(res.headers()['cache-control'], 'no-store, private');
    }
    await learnerGetsTheItem(browser, dialogs);
    await useLanguage(reviewer, 'ar');
    assert.equal(await direction(reviewer), 'rtl');
    await visit(reviewer, '/review', 'ar review queue');
    await visit(reviewer, `/review/items/${itemId}`, 'ar review item');
    await visit(reviewer, '/review/reports', 'ar report triage');
    await visit(reviewer, '/review/alerts', 'ar quality alerts');
    await visit(reviewer, `/review/items/${itemId}/quality`, 'ar item quality');
    if (process.env.MYQCM_E2E_LLM) await visit(reviewer, '/review/grades', 'ar assisted QROC grades');
    await useLanguage(reviewer, 'fr');
    assert.deepEqual(reviewerErrors.stop(), [], 'no console error on the review pages');

    // ---- admin: the jobs page (live rows follow their event stream)
    const actx = await newContext(browser);
    const admin = await actx.newPage();
    const adminErrors = collectErrors(admin);
    await staffSignIn(admin, 'admin');
    await visit(admin, '/admin/jobs', 'fr admin jobs');
    // Accounts: the list links each account, whose page holds the roles form; the step-up form.
    await visit(admin, '/admin/users', 'fr admin users');
    const accountLink = await admin.getAttribute('main table a[href^="/admin/users/"]', 'href');
    await Promise.all([admin.waitForURL(new RegExp(`${accountLink}$`)), admin.click(`main a[href="${accountLink}"]`)]);
    await assertAccessible(admin, 'fr admin user');
    // Signed in with the two-step code moments ago, a recent proof: the roles form is offered.
    assert.ok(await admin.$(`main form[action="${accountLink}"]`), 'the account page offers its roles form');
    await visit(admin, `/admin/step-up?next=${encodeURIComponent(accountLink)}`, 'fr admin step-up');
    assert.ok(await admin.$('form[action="/admin/step-up"] #totp_code'), 'the step-up asks for the two-step code');
    await visit(admin, '/admin/withdrawals', 'fr admin withdrawals');
    if (process.env.MYQCM_E2E_LLM) {
      // Everyone's model usage: the author's generation above is a row of today.
      assert.ok(await admin.$('nav a[href="/admin/ai-usage"]'), 'the navigation links the AI usage');
      await visit(admin, '/admin/ai-usage?days=7', 'fr AI usage');
      assert.ok(await admin.$('#ai-usage-rows tr[data-kind="generation"]'), 'the generation is listed');
      const tokens = Number((await admin.textContent('[data-total="tokens"]')).replace(/\D/g, ''));
      assert.ok(tokens > 0, `tokens counted: ${tokens}`);
    }
    await useLanguage(admin, 'ar');
    await visit(admin, '/admin/jobs', 'ar admin jobs');
    await visit(admin, '/admin/users', 'ar admin users');
    await visit(admin, accountLink, 'ar admin user');
    await visit(admin, `/admin/step-up?next=${encodeURIComponent(accountLink)}`, 'ar admin step-up');
    await visit(admin, '/admin/withdrawals', 'ar admin withdrawals');
    if (process.env.MYQCM_E2E_LLM) await visit(admin, '/admin/ai-usage', 'ar AI usage');
    await useLanguage(admin, 'fr');
    assert.deepEqual(adminErrors.stop(), [], 'no console error on the admin pages');

    assert.deepEqual(dialogs, [], 'no payload ran');
    await ctx.close();
    await rctx.close();
    await actx.close();
  });
});
