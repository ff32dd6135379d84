// Every learner page, signed out and signed in (the demo student from `myqcm seed --demo`),
// including the player before and after an answer and the summary of a session, is under 100 KB
// transferred: HTML + CSS + JS, compressed (scripts/page-weight.mjs).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

import { BUDGET, measure } from '../../scripts/page-weight.mjs';
import { baseUrl, launchBrowser, saveArtifact } from '../lib/browser.mjs';

async function demoStudent() {
  const log = await readFile(process.env.MYQCM_E2E_SEED_LOG ?? '', 'utf8').catch(() => '');
  const m = /^\s*student\s+(\S+)\s+password:\s+(\S+)/m.exec(log);
  return m ? { email: m[1], password: m[2] } : {};
}

test('every page is under 100 KB compressed (HTML + CSS + JS)', async () => {
  const creds = await demoStudent();
  assert.ok(creds.email, 'the demo seed printed a student account');
  // The seed gives the demo student its profile (year 3), so its builder offers a subject at
  // once: no onboarding on the way. The free plan allows one device and the other journeys
  // sign the demo student in from the suite's browser: the measurement identifies as that
  // browser, the same device, so it signs none of their sessions out.
  const browser = await launchBrowser();
  const userAgent = await browser.newPage().then((p) => p.evaluate(() => navigator.userAgent));
  await browser.close();
  const rows = await measure(baseUrl(), { ...creds, userAgent });
  await saveArtifact('page-weight.json', JSON.stringify(rows, null, 2));
  assert.ok(rows.some((r) => r.path === '/settings' && r.status === 200), 'signed-in pages were measured');
  for (const path of ['/practice/{id}', '/practice/{id}/answer', '/practice/{id}/summary']) {
    assert.ok(rows.some((r) => r.path === path && r.status === 200), `${path} was measured`);
  }
  const over = rows.filter((r) => r.total > BUDGET);
  assert.deepEqual(over, [], `pages over ${BUDGET} B: ${JSON.stringify(over)}`);
  assert.ok(rows.every((r) => r.assets > 0), 'each page references its CSS and JS');
});
