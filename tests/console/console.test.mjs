// The console as an auditor uses it, in Debian's headless Chromium driven by Playwright.
// Run by `cargo test` (crates/cli/tests/console.rs), which starts `mamori serve` on a
// store it prepared and passes its address and a user in the environment.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';

const base = process.env.MAMORI_URL;
const user = process.env.MAMORI_USER;
const password = process.env.MAMORI_PASSWORD;
const resident = process.env.MAMORI_RESIDENT;
const shots = process.env.MAMORI_SCREENSHOTS;
const manager = process.env.MAMORI_MANAGER;
const privacy = process.env.MAMORI_PRIVACY;
// The case the auditor opens in the second test: the privacy officer sizes its breach.
let caseNumber = '';

/** Signs `name` in on a new page and waits for the dashboard. */
async function signIn(b, name) {
  const page = await b.newPage();
  await page.goto(`${base}/console/login`);
  await page.getByLabel('ユーザー名').fill(name);
  await page.getByLabel('パスワード').fill(password);
  await page.getByRole('button', { name: 'ログイン' }).click();
  await page.getByRole('heading', { name: 'ダッシュボード' }).waitFor();
  return page;
}

// One Chromium for the whole file (launching it again for every test has crashed it on
// a loaded machine); each test gets a fresh context: its own cookies, nothing shared.
let chromiumProcess;

async function browser() {
  if (!chromiumProcess) {
    chromiumProcess = await chromium.launch({
      executablePath: process.env.MAMORI_CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
  }
  return chromiumProcess.newContext();
}

after(async () => {
  if (chromiumProcess) await chromiumProcess.close();
});

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
    caseNumber = (await page.getByRole('heading', { name: /^C-\d{4}-\d{4} / }).innerText()).split(' ')[0];
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

test('an auditor marks a finding a false alarm for 30 days and the next detection sets it aside', async () => {
  const b = await browser();
  try {
    const page = await signIn(b, user);
    await page.goto(`${base}/console/findings`);
    await page.locator('a[href*="vip_unexplained"]').first().click();
    await page.getByRole('heading', { name: '要注意者（VIP）の記録の照会' }).waitFor();
    await page.getByRole('button', { name: 'この所見で事案を開始' }).click();
    await page.getByRole('heading', { name: /^C-\d{4}-\d{4} / }).waitFor();
    await page.getByLabel('判定').selectOption('false-alarm');
    await page.getByLabel('理由').fill('市長の来庁予約の照会（予約システムは連携対象外）');
    await page.getByLabel(/抑制する日数/).fill('30');
    await page.getByRole('button', { name: '事案を終結' }).click();
    await page.locator('.case-state', { hasText: '誤検知' }).waitFor();
    assert.match(await page.locator('.case-suppression').innerText(), /vip_unexplained/);
    // Detection runs as it would at night, beside the running server.
    const said = execFileSync(process.env.MAMORI_BIN, ['--data', process.env.MAMORI_DATA, 'detect'], { encoding: 'utf8' });
    assert.match(said, /終結した事案により抑制/, said);
    await page.goto(`${base}/console/findings`);
    assert.equal(await page.locator('a[href*="vip_unexplained"]').count(), 0, 'set aside: not raised');
    await page.getByLabel('状態').selectOption('suppressed');
    await page.getByRole('button', { name: '表示' }).click();
    await page.getByRole('heading', { name: '所見一覧' }).waitFor();
    assert.ok((await page.locator('a[href*="vip_unexplained"]').count()) >= 1, 'kept, and shown as suppressed');
    if (shots) await page.screenshot({ path: `${shots}/console-suppressed.png`, fullPage: true });
    await page.getByRole('navigation', { name: 'メニュー' }).getByRole('link', { name: 'ログの取り込み元' }).click();
    await page.getByRole('heading', { name: 'ログの取り込み元' }).waitFor();
    assert.ok((await page.locator('section.source').count()) >= 1, 'each source with its activity');
    if (shots) await page.screenshot({ path: `${shots}/console-sources.png`, fullPage: true });
  } finally {
    await b.close();
  }
});

test('a manager signs off the monthly review and cannot see another department', async () => {
  const b = await browser();
  try {
    const page = await signIn(b, manager);
    const menu = await page.getByRole('navigation', { name: 'メニュー' }).innerText();
    assert.ok(!menu.includes('事案') && !menu.includes('開示'), `a manager's menu: ${menu}`);
    await page.getByRole('navigation', { name: 'メニュー' }).getByRole('link', { name: 'アクセスログ点検' }).click();
    await page.getByLabel('月', { exact: true }).fill('2024-05');
    await page.getByRole('button', { name: '表示' }).click();
    await page.getByRole('heading', { name: /^点検票 D300/ }).waitFor();
    const marks = page.locator('select[name^="mark_"]');
    const n = await marks.count();
    assert.ok(n >= 1, 'the unexplained accesses are on the sheet');
    for (let i = 0; i < n; i++) await marks.nth(i).selectOption(i === 0 ? 'n' : 'b');
    if (shots) await page.screenshot({ path: `${shots}/console-review.png`, fullPage: true });
    await page.getByRole('button', { name: '点検を完了して署名' }).click();
    await page.locator('.signed').waitFor();
    assert.match(await page.locator('.signed').innerText(), new RegExp(manager));
    assert.equal(await page.locator('select[name^="mark_"]').count(), 0, 'signed once: no more marks');
    // Another department's employee and review sheet: 403, nothing of them shown.
    for (const path of ['/console/employees/E0004', '/console/review?department=D200&month=2024-05']) {
      const answer = await page.goto(`${base}${path}`);
      assert.equal(answer.status(), 403, path);
      const body = await page.locator('body').innerText();
      assert.ok(!body.includes('E0004') && !body.includes('点検票'), body);
    }
  } finally {
    await b.close();
  }
});

test('the privacy officer makes a disclosure and a breach draft', async () => {
  const b = await browser();
  try {
    const page = await signIn(b, privacy);
    await page.getByRole('navigation', { name: 'メニュー' }).getByRole('link', { name: 'アクセス履歴の開示（開示請求）' }).click();
    await page.getByLabel('宛名番号').fill(resident);
    await page.getByLabel('開示請求番号').fill('R6-開示-0100');
    await page.getByRole('button', { name: '作成' }).click();
    await page.getByRole('heading', { name: /個人情報の利用記録/ }).waitFor();
    await page.goto(`${base}/console/breach`);
    await page.getByLabel('事案番号').fill(caseNumber);
    await page.getByLabel('事態を知った日').fill('2024-05-10');
    await page.getByLabel('件名').fill('職員による親族の記録の私的照会');
    await page.getByLabel(/不正の目的/).check();
    if (shots) await page.screenshot({ path: `${shots}/console-breach-form.png`, fullPage: true });
    await page.getByRole('button', { name: '作成' }).click();
    await page.getByRole('heading', { name: '個人情報の漏えい等に関する報告（案）' }).waitFor();
    assert.match(await page.locator('body').innerText(), new RegExp(caseNumber));
    if (shots) await page.screenshot({ path: `${shots}/console-breach.png`, fullPage: true });
    const answer = await page.goto(`${base}/console/findings`);
    assert.equal(answer.status(), 403, 'a privacy officer reads no findings');
  } finally {
    await b.close();
  }
});
