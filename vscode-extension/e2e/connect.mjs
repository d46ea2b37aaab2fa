// Drives code-server in headless Chromium: "SageMaker: Connect to SageMaker…" from the command
// palette, pick `demo`, see the progress notification, wait for the extension to hand over the
// remote folder URI. Prints one JSON line with what it saw; exits non-zero on any failure.
//
// Env: CODE_SERVER_URL, CHROMIUM (default /usr/bin/chromium), ARTIFACTS (screenshots go here),
//      OPEN_LOG (the file the extension appends the opened URI to), SPACE (default demo),
//      UPLOAD_FILE / DOWNLOAD_FOLDER (names in the opened folder: the Explorer transfers).
import { chromium } from 'playwright-core';
import * as fs from 'node:fs';
import * as path from 'node:path';

const url = process.env.CODE_SERVER_URL;
const artifacts = process.env.ARTIFACTS ?? 'test-artifacts';
const openLog = process.env.OPEN_LOG;
const space = process.env.SPACE ?? 'demo';
if (!url || !openLog) {
  console.error('CODE_SERVER_URL and OPEN_LOG are required');
  process.exit(2);
}
fs.mkdirSync(artifacts, { recursive: true });
const seen = { quickpick: [], progress: [], uri: null };
// Any error notification of ours ends the run at once with its text.
async function failOnErrorToast(page) {
  const toast = page.locator('.notifications-toasts .notification-toast:has(.codicon-error)').first();
  if (await toast.count()) {
    throw new Error(`the extension reported: ${(await toast.innerText()).replace(/\s+/g, ' ')}`);
  }
}
async function waitVisible(page, locator, timeout) {
  const deadline = Date.now() + timeout;
  for (;;) {
    await failOnErrorToast(page);
    if (await locator.isVisible()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${locator}`);
    await page.waitForTimeout(200);
  }
}
async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 30_000 });
  await input.fill(`>SageMaker: ${title}`);
  const command = page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
  await command.waitFor({ timeout: 30_000 });
  await page.keyboard.press('Enter');
  step(`ran SageMaker: ${title}`);
}
// Right-click `name` in the Explorer, run our `item` from its context menu, pick the space,
// answer the path prompt titled `title` (`remote`, or the default), and wait for the "done" notification.
async function explorerTransfer(page, name, item, title, remote, verb) {
  await page.keyboard.press('Control+Shift+E');
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
  await waitVisible(page, row, 30_000);
  await row.click({ button: 'right' });
  const entry = page.locator('.monaco-menu .action-item', { hasText: item }).first();
  await waitVisible(page, entry, 30_000);
  await entry.hover(); // the workbench's menus act on the focused item's Enter, not a synthetic click
  await page.keyboard.press('Enter');
  const pick = page.locator('.quick-input-widget .monaco-list-row', { hasText: space }).first();
  await waitVisible(page, pick, 60_000);
  await pick.click();
  // The path prompt replaces the space picker in the same widget: wait for its own title.
  const prompt = page.locator('.quick-input-widget .quick-input-title', { hasText: `${title} ${space}` }).first();
  await waitVisible(page, prompt, 30_000);
  const input = page.locator('.quick-input-widget input').first();
  if (remote !== null) await input.fill(remote);
  await input.press('Enter');
  const done = page.locator('.notifications-toasts .notification-toast', { hasText: `${verb} ${space}: done` }).first();
  await waitVisible(page, done, 120_000);
  const text = (await done.locator('.notification-list-item-message').innerText()).replace(/\s+/g, ' ').trim();
  step(text);
  return text;
}
const step = (msg) => console.error(`[e2e ${new Date().toISOString().slice(11, 19)}] ${msg}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
});
let page;
try {
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  step(`open ${url}`);
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 120_000 });
  await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
  // The status bar item is ours: once it shows, the extension host has activated it.
  await page.locator('.statusbar-item', { hasText: 'SageMaker' }).first().waitFor({ timeout: 120_000 });
  step('workbench ready, extension active');

  await runCommand(page, 'Connect to SageMaker');

  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: space }).first();
  await waitVisible(page, row, 120_000);
  // aria-label is "label, description, detail" with the icons' names stripped.
  seen.quickpick = await page.locator('.quick-input-widget .monaco-list-row').evaluateAll((rows) =>
    rows.map((r) => (r.getAttribute('aria-label') ?? r.textContent ?? '').replace(/\s+/g, ' ').trim()));
  seen.title = (await page.locator('.quick-input-widget .quick-input-title').innerText().catch(() => '')).trim();
  await page.screenshot({ path: path.join(artifacts, 'quickpick.png') });
  step(`quick pick: ${JSON.stringify(seen.quickpick)}`);
  await row.click();

  const toast = page.locator('.notifications-toasts .notification-toast', { hasText: `opening ${space}` }).first();
  await waitVisible(page, toast, 60_000);
  const message = toast.locator('.notification-list-item-message');
  seen.progress.push((await message.innerText()).replace(/\s+/g, ' ').trim());
  seen.cancellable = await toast.locator('a.monaco-button, .monaco-button', { hasText: 'Cancel' }).count() > 0;
  seen.statusDuringOpen = (await page.locator('.statusbar-item', { hasText: 'SageMaker' }).first().innerText()).trim();
  await page.screenshot({ path: path.join(artifacts, 'progress.png') });
  step(`progress: ${seen.progress[0]}`);

  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    // Keep sampling the notification's changing message while the space starts.
    const text = await message.innerText({ timeout: 500 }).catch(() => null);
    if (text) {
      const t = text.replace(/\s+/g, ' ').trim();
      if (seen.progress[seen.progress.length - 1] !== t) seen.progress.push(t);
    }
    const log = fs.existsSync(openLog) ? fs.readFileSync(openLog, 'utf8').trim() : '';
    if (log) {
      seen.uri = JSON.parse(log.split('\n').pop()).uri;
      break;
    }
    await failOnErrorToast(page);
    await page.waitForTimeout(100);
  }
  if (!seen.uri) throw new Error('the extension opened no folder within 180 s');
  await page.screenshot({ path: path.join(artifacts, 'opened.png') });
  step(`opened ${seen.uri}`);

  // Attach Notebook Kernel: without the Jupyter extension (not in code-server), the extension
  // opens the space's Jupyter forward and shows its URL.
  await runCommand(page, 'Attach Notebook Kernel');
  const kernelRow = page.locator('.quick-input-widget .monaco-list-row', { hasText: space }).first();
  await waitVisible(page, kernelRow, 60_000);
  await kernelRow.click();
  const attached = page.locator('.notifications-toasts .notification-toast', { hasText: `Jupyter on ${space} is at` }).first();
  await waitVisible(page, attached, 120_000);
  seen.kernel = (await attached.locator('.notification-list-item-message').innerText()).replace(/\s+/g, ' ').trim();
  // The Jupyter forward holds a session: the status bar shows the space and its latency.
  const connected = page.locator('.statusbar-item', { hasText: new RegExp(`${space} \\d+ ms`) }).first();
  await waitVisible(page, connected, 30_000);
  seen.statusConnected = (await connected.innerText()).trim();
  await page.screenshot({ path: path.join(artifacts, 'kernel.png') });
  step(`${seen.kernel} | status bar: ${seen.statusConnected}`);

  // Explorer "Upload to SageMaker space…" on a file, then "Download from SageMaker space…" on a
  // folder: each asks for the space and a path in it, shows a progress notification, and says
  // what it moved (the test compares the bytes on both ends).
  if (process.env.UPLOAD_FILE && process.env.DOWNLOAD_FOLDER) {
    seen.upload = await explorerTransfer(page, process.env.UPLOAD_FILE, 'Upload to SageMaker space…', 'Upload to', null, 'uploading to');
    seen.download = await explorerTransfer(page, process.env.DOWNLOAD_FOLDER, 'Download from SageMaker space…',
      'Download from', process.env.UPLOAD_FILE, 'downloading from');
  }

  // Stop Space lists only spaces with an app, and says when it is done.
  await runCommand(page, 'Stop Space');
  const running = page.locator('.quick-input-widget .monaco-list-row', { hasText: space }).first();
  await waitVisible(page, running, 60_000);
  seen.stopChoices = await page.locator('.quick-input-widget .monaco-list-row').evaluateAll((rows) =>
    rows.map((r) => (r.getAttribute('aria-label') ?? '').replace(/\s+/g, ' ').trim()));
  await running.click();
  // The Jupyter forward is open on it: the daemon refuses a plain stop and the extension asks.
  const stopAnyway = page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Stop anyway' }).first();
  await waitVisible(page, stopAnyway, 60_000);
  seen.stopQuestion = (await page.locator('.monaco-dialog-box').first().innerText()).replace(/\s+/g, ' ').trim();
  step(`asked: ${seen.stopQuestion}`);
  await stopAnyway.click();
  const done = page.locator('.notifications-toasts .notification-toast', { hasText: `${space} is stopped` }).first();
  await waitVisible(page, done, 60_000);
  seen.stopped = (await done.locator('.notification-list-item-message').innerText()).trim();
  step(seen.stopped);

  // Connect again, and Cancel while the (now stopped) space starts: nothing opens, no error.
  await runCommand(page, 'Connect to SageMaker');
  const again = page.locator('.quick-input-widget .monaco-list-row', { hasText: space }).first();
  await waitVisible(page, again, 60_000);
  await again.click();
  const reopening = page.locator('.notifications-toasts .notification-toast', { hasText: `opening ${space}` }).first();
  await waitVisible(page, reopening, 30_000);
  await reopening.locator('.monaco-button', { hasText: 'Cancel' }).click();
  await reopening.waitFor({ state: 'hidden', timeout: 10_000 });
  await page.waitForTimeout(4000); // longer than the emulator's app start: a late open would show
  await failOnErrorToast(page);
  seen.opensAfterCancel = fs.readFileSync(openLog, 'utf8').trim().split('\n').length;
  step(`cancelled; folders opened so far: ${seen.opensAfterCancel}`);

  // smconnect missing: a clear error, with the install instructions one click away.
  if (process.env.MACHINE_SETTINGS) {
    fs.writeFileSync(process.env.MACHINE_SETTINGS, JSON.stringify({ 'smconnect.path': '/nonexistent/smconnect' }));
    await page.waitForTimeout(1500); // the settings file is watched
    await runCommand(page, 'Run Doctor');
    const missing = page.locator('.notifications-toasts .notification-toast:has(.codicon-error)', { hasText: 'not found' }).first();
    await missing.waitFor({ timeout: 30_000 });
    seen.missing = (await missing.locator('.notification-list-item-message').innerText()).trim();
    seen.missingActions = await missing.locator('.monaco-button').allInnerTexts();
    await missing.locator('.monaco-button', { hasText: 'Install Instructions' }).click();
    const readme = page.locator('.tabs-container .tab', { hasText: 'README' }).first();
    await readme.waitFor({ timeout: 30_000 });
    seen.instructionsTab = (await readme.innerText()).trim();
    await page.screenshot({ path: path.join(artifacts, 'install-instructions.png') });
    step(`${seen.missing} -> ${seen.instructionsTab}`);
  }
  console.log(JSON.stringify(seen));
} catch (err) {
  if (page) await page.screenshot({ path: path.join(artifacts, 'failure.png') }).catch(() => {});
  console.error(`e2e failed: ${err?.stack ?? err}`);
  console.log(JSON.stringify({ ...seen, error: String(err?.message ?? err) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
