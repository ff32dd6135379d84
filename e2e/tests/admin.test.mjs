// The admin console in a real browser: the demo admin signs in with the TOTP code computed from
// the secret the demo seed printed, uploads a CSV with one bad row, sees the row / column /
// reason report of the dry run while nothing is imported, fixes the file, checks it again and
// imports it; the run page reaches its end through the job's event stream (no manual reload).
// Then the exports, audit, sessions and configuration pages. axe-core (serious and critical)
// runs on every page visited, in French and in Arabic (computed direction rtl); screenshots
// `admin-*.png` go to the artifacts for docs/ADMIN.md.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { AUTOMATIC_FAVICON, collectErrors, launchBrowser, newContext } from '../lib/browser.mjs';
import { assertAccessible, direction, saveScreenshot, useLanguage, visit } from '../lib/app.mjs';
import { staffSignIn } from '../lib/practice.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const TAG = `E2EIMPORT${Date.now()}`;
const header = 'external_id,type,course,stem,option1,option2,correct,kcs';
const row = (n, correct) =>
  `${TAG.toLowerCase()}-${n},qcs,cardio-hta,${TAG} question ${n} importée depuis le navigateur ?,A,B,${correct},kc-cardio-hta-def`;
const BAD = [header, row(1, 1), row(2, 3), ''].join('\n');
const FIXED = [header, row(1, 1), row(2, 2), ''].join('\n');

/** Uploads `csv` from the imports page in `mode`; returns the run page's path. */
async function uploadCsv(page, csv, mode) {
  await visit(page, '/admin/imports', 'fr imports');
  await page.setInputFiles('#file', { name: 'questions.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') });
  await page.check(`input[name="mode"][value="${mode}"]`);
  await Promise.all([
    page.waitForURL(/\/admin\/imports\/[0-9a-f-]{36}$/),
    page.click('form[action="/admin/imports"] button[type="submit"]'),
  ]);
  return new URL(page.url()).pathname;
}

/** Waits until the run page shows its report: the event stream reloads it when the job ends. */
async function waitForReport(page) {
  await page.waitForSelector('#report-title', { timeout: 30_000 });
  assert.equal(await page.$('[data-job-events]'), null, 'the live part is gone once the run ended');
}

/** The catalogue as CSV, downloaded with the session's cookies. */
async function exportedCsv(page) {
  return page.evaluate(async () => {
    const r = await fetch('/admin/exports/download?scope=catalogue&format=csv');
    return r.text();
  });
}

describe('admin console', () => {
  test('an admin checks a CSV with one bad row, fixes it and imports it; every page is accessible', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    // The wrong file type below answers 422 on purpose (the browser logs that status).
    const refusedUpload = (msg) =>
      msg.text().includes('status of 422') && /\/admin\/imports$/.test(msg.location()?.url ?? '');
    const errors = collectErrors(page, { ignore: [AUTOMATIC_FAVICON, refusedUpload] });
    await staffSignIn(page, 'admin');

    // Wrong type: the form says so.
    await visit(page, '/admin/imports', 'fr imports');
    await page.setInputFiles('#file', { name: 'questions.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.7') });
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/admin/imports"] button[type="submit"]')]);
    assert.ok(await page.$('.error-summary'), 'a wrong file type is refused on the form');
    await assertAccessible(page, 'fr imports (error)');

    // The dry run of a file with one bad row: row 3, column "correct", nothing imported.
    const checked = await uploadCsv(page, BAD, 'dry_run');
    await waitForReport(page);
    await assertAccessible(page, 'fr import report');
    await saveScreenshot(page, 'admin-import-report');
    const cells = await page.$$eval('#import-errors tbody tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent.trim())));
    assert.equal(cells.length, 1, `one bad row: ${JSON.stringify(cells)}`);
    assert.equal(cells[0][0], '3');
    assert.equal(cells[0][1], 'correct');
    assert.ok(cells[0][2].length > 0, 'a reason is given');
    assert.match(await page.textContent('main'), /Rien n’a été importé/);
    assert.equal(await page.$('form[action$="/commit"]'), null, 'a failed check cannot be imported');
    assert.ok(!(await exportedCsv(page)).includes(TAG), 'nothing was imported');

    // Fixed: the check is clean, then the same stored file is imported.
    const clean = await uploadCsv(page, FIXED, 'dry_run');
    assert.notEqual(clean, checked);
    await waitForReport(page);
    assert.match(await page.textContent('main'), /Aucun problème trouvé/);
    assert.ok(!(await exportedCsv(page)).includes(TAG), 'a check writes nothing');
    await Promise.all([
      page.waitForURL((u) => /\/admin\/imports\/[0-9a-f-]{36}$/.test(u.pathname) && u.pathname !== clean),
      page.click('form[action$="/commit"] button[type="submit"]'),
    ]);
    await waitForReport(page);
    assert.match(await page.textContent('main'), /Nouvelles questions : 2/);
    const csv = await exportedCsv(page);
    assert.ok(csv.includes(`${TAG} question 1`) && csv.includes(`${TAG} question 2`), 'both questions imported');

    // The other pages, in French then Arabic.
    const pages = [
      ['/admin/imports', 'imports'],
      [clean, 'import-run'],
      ['/admin/exports', 'exports'],
      ['/admin/audit', 'audit'],
      ['/admin/audit?action=catalogue.import_commit', 'audit-filtered'],
      ['/admin/sessions?email=admin%40demo.myqcm.local', 'sessions'],
      ['/admin/config', 'config'],
    ];
    for (const [path, name] of pages) await visit(page, path, `fr ${name}`);
    assert.match(await page.textContent('main'), /SQLite|PostgreSQL/);
    await visit(page, '/admin/audit?action=catalogue.import_commit', 'fr audit (commit)');
    assert.ok((await page.$$('#audit-entries tbody tr')).length >= 1, 'the commit is in the audit log');
    await useLanguage(page, 'ar');
    assert.equal(await direction(page), 'rtl');
    for (const [path, name] of pages) {
      await visit(page, path, `ar ${name}`);
      await saveScreenshot(page, `admin-ar-${name}`);
    }
    await useLanguage(page, 'fr');
    await visit(page, '/admin/imports', 'fr imports');
    await saveScreenshot(page, 'admin-imports');
    assert.deepEqual(errors.stop(), [], 'no console error on the admin pages');
    await ctx.close();
  });
});
