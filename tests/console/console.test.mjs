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
    await page.goto(`${base}/console/disclosure/report?resident=${resident}`);
    assert.equal(new URL(page.url()).pathname, '/console/login', 'no session, no report');
  } finally {
    await b.close();
  }
});

test('an auditor signs in, makes a resident\'s disclosure and signs out', async () => {
  const b = await browser();
  try {
    const page = await b.newPage();
    await page.goto(`${base}/console/login`);
    await page.getByLabel('ユーザー名').fill(user);
    await page.getByLabel('パスワード').fill(password);
    await page.getByRole('button', { name: 'ログイン' }).click();
    await page.getByRole('heading', { name: 'アクセス履歴の開示（開示請求）' }).waitFor();
    assert.equal(await page.locator('.user').innerText(), user);
    if (shots) await page.screenshot({ path: `${shots}/console-form.png`, fullPage: true });
    await page.getByLabel('宛名番号').fill(resident);
    await page.getByLabel('開示請求番号').fill('R6-開示-0099');
    await page.getByRole('button', { name: '作成' }).click();
    await page.getByRole('heading', { name: /個人情報の利用記録/ }).waitFor();
    const text = await page.locator('body').innerText();
    assert.match(text, /R6-開示-0099/);
    assert.ok((await page.locator('tbody tr').count()) > 0, 'the report lists the accesses');
    if (shots) await page.screenshot({ path: `${shots}/console-report.png`, fullPage: true });
    await page.goBack();
    await page.getByRole('link', { name: '所見一覧' }).click();
    await page.getByRole('heading', { name: '所見一覧' }).waitFor();
    assert.ok((await page.locator('tbody tr').count()) >= 1, 'the stored findings are listed');
    assert.match(await page.locator('tbody').innerText(), /relative_lookup/);
    if (shots) await page.screenshot({ path: `${shots}/console-findings.png`, fullPage: true });
    await page.getByRole('button', { name: 'ログアウト' }).click();
    await page.goto(`${base}/console/disclosure`);
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
    await page.getByRole('heading', { name: 'Access-history disclosure' }).waitFor();
  } finally {
    await b.close();
  }
});
