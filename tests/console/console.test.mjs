// The console as an auditor uses it, in Debian's headless Chromium driven by Playwright.
// Run by `cargo test` (crates/cli/tests/console.rs), which starts `mamori serve` on a
// store it prepared and passes its address and a user in the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const base = process.env.MAMORI_URL;
const user = process.env.MAMORI_USER;
const password = process.env.MAMORI_PASSWORD;
const resident = process.env.MAMORI_RESIDENT;
const shots = process.env.MAMORI_SCREENSHOTS;

async function browser() {
  return chromium.launch({
    executablePath: process.env.MAMORI_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

test('a wrong password is refused in Japanese, and the report is not reachable', async () => {
  const b = await browser();
  try {
    const page = await b.newPage();
    await page.goto(`${base}/console`);
    assert.equal(new URL(page.url()).pathname, '/console/login');
    assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
    await page.getByLabel('ユーザー名').fill(user);
    await page.getByLabel('パスワード').fill('not the password');
    await page.getByRole('button', { name: 'ログイン' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /パスワードが違います/);
    await page.goto(`${base}/console/disclosure`);
    assert.equal(new URL(page.url()).pathname, '/console/login', 'no session, no form');
    const byGet = await page.request.get(`${base}/console/disclosure/report?resident=${resident}`, { maxRedirects: 0 });
    assert.ok(byGet.status() === 404 || byGet.status() === 405, 'a disclosure is never a GET');
  } finally {
    await b.close();
  }
});

test('an auditor signs in, investigates a finding and its employee, makes a disclosure and signs out', async () => {
  const b = await browser();
  try {
    const page = await b.newPage();
    await page.goto(`${base}/console/login`);
    await page.getByLabel('ユーザー名').fill(user);
    await page.getByLabel('パスワード').fill(password);
    await page.getByRole('button', { name: 'ログイン' }).click();
    await page.getByRole('heading', { name: 'ダッシュボード' }).waitFor();
    assert.equal(await page.locator('.user').innerText(), user);
    assert.ok(Number(await page.locator('.urgent-count').innerText()) >= 1, 'urgent findings are counted');
    if (shots) await page.screenshot({ path: `${shots}/console-dashboard.png`, fullPage: true });
    await page.getByRole('navigation', { name: 'メニュー' }).getByRole('link', { name: '所見一覧' }).click();
    await page.getByRole('heading', { name: '所見一覧' }).waitFor();
    assert.ok((await page.locator('tbody tr').count()) >= 1, 'the stored findings are listed');
    assert.match(await page.locator('tbody').innerText(), /relative_lookup/);
    await page.getByLabel('重大度', { exact: true }).selectOption('high');
    await page.getByRole('button', { name: '表示' }).click();
    await page.getByRole('heading', { name: '所見一覧' }).waitFor();
    assert.match(page.url(), /severity=high/);
    if (shots) await page.screenshot({ path: `${shots}/console-findings.png`, fullPage: true });
    await page.getByRole('link', { name: '本人・親族の記録の照会' }).first().click();
    await page.getByRole('heading', { name: '本人・親族の記録の照会' }).waitFor();
    assert.ok((await page.locator('table.timeline tbody tr').count()) >= 1, 'the evidence is on a timeline');
    assert.match(await page.locator('table.timeline').innerText(), /検証済み/);
    if (shots) await page.screenshot({ path: `${shots}/console-finding.png`, fullPage: true });
    // A case from this finding: opened, noted, closed as misuse.
    await page.getByRole('button', { name: 'この所見で事案を開始' }).click();
    await page.getByRole('heading', { name: /^C-\d{4}-\d{4} / }).waitFor();
    await page.getByLabel('メモを追加').fill('本人に聞き取り済み');
    await page.getByRole('button', { name: 'メモを追加' }).click();
    await page.locator('table.notes').waitFor();
    await page.getByLabel('判定').selectOption('misuse');
    await page.getByLabel('理由').fill('聞き取りで私的な照会と確認');
    await page.getByRole('button', { name: '事案を終結' }).click();
    await page.locator('.case-state', { hasText: '不正利用' }).waitFor();
    assert.match(await page.locator('table.notes').innerText(), /本人に聞き取り済み/);
    if (shots) await page.screenshot({ path: `${shots}/console-case.png`, fullPage: true });
    await page.getByRole('link', { name: /^relative_lookup:/ }).click();
    await page.getByRole('heading', { name: '本人・親族の記録の照会' }).waitFor();
    await page.getByRole('link', { name: /E0001/ }).click();
    await page.getByRole('heading', { name: /E0001/ }).waitFor();
    assert.ok((await page.locator('tr.unexplained').count()) >= 1, 'the unexplained accesses are marked');
    if (shots) await page.screenshot({ path: `${shots}/console-employee.png`, fullPage: true });
    await page.getByRole('link', { name: 'アクセス履歴の開示（開示請求）' }).click();
    await page.getByLabel('宛名番号').fill(resident);
    await page.getByLabel('開示請求番号').fill('R6-開示-0099');
    if (shots) await page.screenshot({ path: `${shots}/console-form.png`, fullPage: true });
    await page.getByRole('button', { name: '作成' }).click();
    await page.getByRole('heading', { name: /個人情報の利用記録/ }).waitFor();
    assert.ok(!page.url().includes(resident), 'the resident number is in no URL');
    const text = await page.locator('body').innerText();
    assert.match(text, /R6-開示-0099/);
    assert.ok((await page.locator('tbody tr').count()) > 0, 'the report lists the accesses');
    if (shots) await page.screenshot({ path: `${shots}/console-report.png`, fullPage: true });
    await page.goto(`${base}/console`);
    await page.getByRole('button', { name: 'ログアウト' }).click();
    await page.goto(`${base}/console/findings`);
    assert.equal(new URL(page.url()).pathname, '/console/login', 'signed out');
  } finally {
    await b.close();
  }
});

test('the console speaks English when asked', async () => {
  const b = await browser();
  try {
    const page = await b.newPage();
    await page.goto(`${base}/console/login?lang=en`);
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByRole('link', { name: 'Access-history disclosure' }).click();
    await page.getByRole('heading', { name: 'Access-history disclosure' }).waitFor();
    // A form in English answers in English: a resident who is not in the town.
    await page.getByLabel('Resident number (宛名番号)').fill('999999999');
    await page.getByRole('button', { name: 'Make the report' }).click();
    await page.getByRole('alert').waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    await page.getByRole('link', { name: 'Findings' }).click();
    await page.getByRole('heading', { name: 'Findings' }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en', 'the language is kept on every page');
  } finally {
    await b.close();
  }
});
