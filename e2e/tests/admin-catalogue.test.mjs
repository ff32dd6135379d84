// The catalogue admin pages in a real browser: the demo admin signs in with the TOTP code
// computed from the secret the demo seed printed, adds a university and renames it, saves a new
// version of the year-3 blueprint (then puts the demo weights back), and sees a refused input
// come back with its error and what was typed. axe-core (serious and critical) runs on every
// page visited, in French and in Arabic (computed direction rtl); screenshots
// `admin-catalogue-*.png` go to the artifacts for docs/ADMIN.md.

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

const STAMP = Date.now().toString(36);
const UNI = `u-e2e-${STAMP}`;

/** Submits the form whose action is `action` and waits for the page that answers. */
async function submit(page, action) {
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click(`form[action="${action}"] button[type="submit"]`),
  ]);
}

describe('admin catalogue pages', () => {
  test('an admin edits an institution and a blueprint; every page is accessible in French and Arabic', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    // Refused inputs answer 422 on purpose (the browser logs that status).
    const refused = (msg) => msg.text().includes('status of 422');
    const errors = collectErrors(page, { ignore: [AUTOMATIC_FAVICON, refused] });
    await staffSignIn(page, 'admin');

    // Institutions: add a university, then rename it through its "edit" link.
    await visit(page, '/admin/institutions', 'fr institutions');
    assert.ok(await page.$('nav a[href="/admin/institutions"]'), 'in the staff navigation');
    await page.fill('#u_code', UNI);
    await page.fill('#u_name', 'Université du parcours e2e');
    await submit(page, '/admin/institutions/universities');
    assert.match(await page.textContent('main'), /Université du parcours e2e/);
    assert.ok(await page.$('.notice'), 'the change is confirmed');
    await page.click(`a[href="/admin/institutions?university=${UNI}#university-form"]`);
    await page.waitForURL(/university=/);
    assert.equal(await page.inputValue('#u_name'), 'Université du parcours e2e');
    await page.fill('#u_name', 'Université renommée e2e');
    await submit(page, '/admin/institutions/universities');
    await page.reload({ waitUntil: 'load' });
    assert.match(await page.textContent('main'), /Université renommée e2e/, 'the new name holds on the next request');
    // A faculty in it.
    await page.selectOption('#f_university', UNI);
    await page.fill('#f_code', `f-e2e-${STAMP}`);
    await page.fill('#f_name', 'Faculté de pharmacie e2e');
    await page.selectOption('#f_field', 'pharmacy');
    await submit(page, '/admin/institutions/faculties');
    assert.match(await page.textContent('main'), /Faculté de pharmacie e2e/);
    // A bad code: the error, and what was typed, come back.
    await page.fill('#u_code', 'Pas Un Code');
    await page.fill('#u_name', 'Nom gardé');
    await submit(page, '/admin/institutions/universities');
    assert.ok(await page.$('.error-summary a[href="#u_code"]'), 'the summary links the field');
    assert.equal(await page.inputValue('#u_name'), 'Nom gardé');
    assert.match(await page.title(), /^Erreur/);
    await assertAccessible(page, 'fr institutions (error)');
    await saveScreenshot(page, 'admin-catalogue-institutions-error');

    // Blueprint of year 3: a new version, then the demo weights back.
    await visit(page, '/admin/blueprints?year=3', 'fr blueprints');
    const original = {
      name: await page.inputValue('#name'),
      cardio: await page.inputValue('#w-cardio'),
      pneumo: await page.inputValue('#w-pneumo'),
      nephro: await page.inputValue('#w-nephro'),
    };
    assert.equal(original.cardio, '0.35');
    await page.fill('#name', `Examen e2e ${STAMP}`);
    await page.fill('#w-cardio', '0.4');
    await page.fill('#w-pneumo', '0.3');
    await page.fill('#w-nephro', '0.3');
    await submit(page, '/admin/blueprints/3');
    assert.match(await page.textContent('main'), new RegExp(`Examen e2e ${STAMP}`));
    assert.equal(await page.inputValue('#w-cardio'), '0.4', 'the new version is the one in use');
    await saveScreenshot(page, 'admin-catalogue-blueprint');
    // Shares that do not add up: refused on the field, the typed value kept.
    await page.fill('#w-cardio', '0.9');
    await submit(page, '/admin/blueprints/3');
    assert.ok(await page.$('.error-summary a[href="#w-cardio"]'));
    assert.equal(await page.inputValue('#w-cardio'), '0.9');
    await assertAccessible(page, 'fr blueprints (error)');
    // The demo weights back, for the other journeys.
    await page.fill('#name', original.name);
    await page.fill('#w-cardio', original.cardio);
    await page.fill('#w-pneumo', original.pneumo);
    await page.fill('#w-nephro', original.nephro);
    await submit(page, '/admin/blueprints/3');
    assert.equal(await page.inputValue('#w-cardio'), '0.35');

    // The changes are in the audit log with the acting account.
    await visit(page, '/admin/audit?action=catalogue.university_saved', 'fr audit (catalogue)');
    assert.ok((await page.$$('#audit-entries tbody tr')).length >= 2, 'add and rename are audited');
    assert.match(await page.textContent('#audit-entries'), /admin@demo\.myqcm\.local/);
    await visit(page, '/admin/audit?action=catalogue.blueprint_saved', 'fr audit (blueprint)');
    assert.ok((await page.$$('#audit-entries tbody tr')).length >= 2, 'both versions are audited');

    // Every catalogue page, in French then Arabic.
    const pages = [
      ['/admin/curriculum', 'curriculum'],
      ['/admin/curriculum?subject=cardio', 'curriculum-edit'],
      ['/admin/kc-trees?subject=cardio', 'kc-trees'],
      ['/admin/kc-trees?subject=cardio&edit=kc-cardio-hta-def', 'kc-trees-edit'],
      ['/admin/blueprints?year=3', 'blueprints'],
      ['/admin/institutions', 'institutions'],
    ];
    for (const [path, name] of pages) {
      await visit(page, path, `fr ${name}`);
      await saveScreenshot(page, `admin-catalogue-${name}`);
    }
    await useLanguage(page, 'ar');
    assert.equal(await direction(page), 'rtl');
    for (const [path, name] of pages) {
      await visit(page, path, `ar ${name}`);
      assert.equal(await direction(page), 'rtl');
      await saveScreenshot(page, `admin-catalogue-ar-${name}`);
    }
    await useLanguage(page, 'fr');
    assert.deepEqual(errors.stop(), [], 'no console error on the catalogue pages');
    await ctx.close();
  });
});
