// The officer's desk in a real browser (Debian's headless Chromium, driven by
// playwright-core; no browser is downloaded): a Senegalese agency officer
// files a tracing request through the form in French; Niger's focal point
// officer sees it appear live, acknowledges and answers in English; the
// agency sees the answer and closes the case. Issue 17: the request carries
// a photo of the markings (a real PNG made by this script), which Niger's
// officer sees in the case view. Screenshots go to
// $FPX_SCREENSHOT_DIR. Run by ctest through desk_browser_test.cpp, which
// starts the broker and the two desks and passes their URLs.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const snUrl = process.env.DESK_SN_URL;
const neUrl = process.env.DESK_NE_URL;
const shots = process.env.FPX_SCREENSHOT_DIR;
const chromiumPath = process.env.FPX_CHROMIUM || '/usr/bin/chromium';
if (!snUrl || !neUrl || !shots) {
  console.error('set DESK_SN_URL, DESK_NE_URL and FPX_SCREENSHOT_DIR (desk_browser_test.cpp does)');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

// Waits for deliveries through the broker: well under a second here; the
// bound only stops a hung run on a loaded machine.
const LIVE_TIMEOUT_MS = 45000;

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--no-first-run'],
});
const senegal = await (await browser.newContext({ locale: 'fr-SN' })).newPage();
const niger = await (await browser.newContext({ locale: 'en-GB' })).newPage();
const problems = [];
for (const [name, page] of [['sn', senegal], ['ne', niger]]) {
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`${name}: ${message.text()}`); });
  page.on('pageerror', (error) => problems.push(`${name}: ${error.message}`));
}

// Polls the text of `selector` until `wanted(text)` (the pages' strict CSP
// forbids the eval that page.waitForFunction would need).
async function waitForText(page, selector, wanted, timeout = LIVE_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  let text = '';
  while (Date.now() < deadline) {
    text = (await page.textContent(selector).catch(() => '')) || '';
    if (wanted(text)) return text;
    await page.waitForTimeout(100);
  }
  throw new Error(`${selector} never showed what was awaited; last text: ${text}`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// A real PNG "photo" of width x height pixels (a gradient with a dark band,
// like an engraved marking): IHDR, one zlib-deflated IDAT, IEND, each with
// its CRC-32 (Node 18 has no zlib.crc32, so it is computed here).
function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function pngChunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
function makePng(width, height) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;  // bit depth
  header[9] = 2;  // RGB
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);  // filter byte 0, then pixels
    for (let x = 0; x < width; x++) {
      const band = y > height / 3 && y < (2 * height) / 3 && x % 8 < 5;
      const shade = band ? 40 : 120 + Math.round((x / width) * 100);
      row[1 + x * 3] = shade;
      row[2 + x * 3] = shade;
      row[3 + x * 3] = band ? 40 : shade - 20;
    }
    rows.push(row);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', header),
                        pngChunk('IDAT', deflateSync(Buffer.concat(rows))), pngChunk('IEND', Buffer.alloc(0))]);
}
const PHOTO_WIDTH = 160;
const PHOTO_HEIGHT = 96;
const photo = makePng(PHOTO_WIDTH, PHOTO_HEIGHT);

try {
  // Niger's officer has the desk open on the inbox, following live deliveries.
  await niger.goto(neUrl);
  await niger.waitForSelector('#owed');
  check((await niger.textContent('h1')).includes('Inbox'), 'the Niger desk is in English');
  await niger.screenshot({ path: `${shots}/01-niger-inbox-empty.png`, fullPage: true });

  // The Senegalese agency files a request in French.
  await senegal.goto(snUrl);
  await senegal.click('text=Nouvelle demande de traçage');
  check((await senegal.textContent('h1')).includes('Nouvelle demande de traçage'), 'the form is in French');
  await senegal.fill('[name="header.caseReference"]', 'SN-ZIG-2026-0142');
  await senegal.selectOption('[name="header.priority"]', 'urgent');
  await senegal.fill('[name="header.urgencyJustification"]', 'Arme utilisée lors d\'un vol à main armée, suspects en fuite');
  await senegal.check('input[name="header.handlingCodes"][value="h0CrimeFightingOnly"]');
  await senegal.fill('[name="requestedStates[0].country"]', 'NE');
  await senegal.selectOption('[name="requestedStates[0].role"]', 'countryOfLastImport');
  await senegal.type('[name="firearms[0].serialNumber"]', 'AK-4711-ZG');
  const partial = await waitForText(senegal, '#completeness', (text) => text.includes('/100'));
  check(partial.includes('manquant'), `completeness names what is missing, in French: ${partial}`);
  await senegal.type('[name="firearms[0].manufacturer"]', 'Manufacture d\'armes de Ouagadougou');
  await senegal.fill('[name="firearms[0].countryOfManufacture"]', 'BF');
  await senegal.fill('[name="firearms[0].model"]', 'MAO-47');
  await senegal.selectOption('[name="firearms[0].type"]', 'rifleCarbine');
  await senegal.type('[name="firearms[0].calibre"]', '7.62x39mm');
  const fuller = await waitForText(senegal, '#completeness', (text) => text.includes('/100') && text !== partial);
  check(Number(fuller.match(/(\d+)\/100/)[1]) > Number(partial.match(/(\d+)\/100/)[1]), `the score grows: ${partial} -> ${fuller}`);
  await senegal.check('input[name="illicitBasis"][value="illicitUnderNationalLaw"]');
  await senegal.fill('[name="legalJustification"]', 'Code pénal du Sénégal, art. 92 : détention sans autorisation');
  await senegal.fill('[name="recovery.date"]', '2026-11-02');
  await senegal.fill('[name="recovery.administrativeArea"]', 'Ziguinchor');
  await senegal.fill('[name="intendedUse"]', 'enquête judiciaire et poursuites');
  await senegal.check('input[name="informationSought"][value="chainOfCustody"]');
  // Issue 17: a photo of the markings, chosen in the file input.
  await senegal.setInputFiles('#f-attachments', { name: 'marquage-culasse.png', mimeType: 'image/png', buffer: photo });
  await senegal.screenshot({ path: `${shots}/02-senegal-new-request-fr.png`, fullPage: true });
  await Promise.all([senegal.waitForURL(/\/case\/[0-9a-f]{32}/), senegal.click('#request-form button[type="submit"]')]);
  check((await senegal.textContent('#case-status')).includes('en attente'), 'the new case waits for an acknowledgement');
  await senegal.screenshot({ path: `${shots}/03-senegal-case-sent-fr.png`, fullPage: true });

  // Niger sees it appear live (server-sent events), overdue and urgent first.
  await niger.waitForSelector('#owed >> text=SN-ZIG-2026-0142', { timeout: LIVE_TIMEOUT_MS });
  await niger.screenshot({ path: `${shots}/04-niger-inbox-live.png`, fullPage: true });
  await Promise.all([niger.waitForURL(/\/case\//), niger.click('#owed >> text=SN-ZIG-2026-0142')]);
  check((await niger.textContent('.thread')).includes('Tracing request'), 'the case view shows the request in English');
  // The photo is shown inline, decoded at its own size, and served by the
  // desk as exactly the signed bytes, typed image/png, nosniff, sandboxed.
  const image = niger.locator('.attachments img');
  await image.waitFor({ timeout: LIVE_TIMEOUT_MS });
  check((await niger.textContent('.attachments')).includes('marquage-culasse.png'), 'the photo is named');
  const deadline = Date.now() + LIVE_TIMEOUT_MS;
  let box = await image.boundingBox();
  while ((!box || box.height < PHOTO_HEIGHT) && Date.now() < deadline) {
    await niger.waitForTimeout(100);
    box = await image.boundingBox();
  }
  check(box && box.width >= PHOTO_WIDTH && box.height >= PHOTO_HEIGHT, `the photo is decoded and shown: ${JSON.stringify(box)}`);
  const served = await niger.context().request.get(new URL(await image.getAttribute('src'), niger.url()).toString());
  check(served.status() === 200, `the photo is served: ${served.status()}`);
  check(served.headers()['content-type'] === 'image/png', `typed image/png: ${served.headers()['content-type']}`);
  check(served.headers()['x-content-type-options'] === 'nosniff', 'served with nosniff');
  check((served.headers()['content-security-policy'] || '').includes('sandbox'), 'served with a sandboxing policy');
  check(Buffer.compare(await served.body(), photo) === 0, 'served as exactly the bytes attached');
  await niger.screenshot({ path: `${shots}/04b-niger-case-photo-en.png`, fullPage: true });
  await niger.selectOption('#ack-form [name="status"]', 'accepted');
  await niger.fill('#ack-form [name="expectedResponseDate"]', '2026-12-20');
  await Promise.all([niger.waitForURL(/done=ack/), niger.click('#ack-form button[type="submit"]')]);
  await niger.selectOption('#respond-form [name="kind"]', 'final');
  await niger.selectOption('#respond-form [name="outcome"]', 'partialChain');
  await niger.selectOption('#respond-form [name="chainOfCustody[0].role"]', 'importer');
  await niger.fill('#respond-form [name="chainOfCustody[0].entity"]', 'Société Sahel Import');
  await niger.fill('#respond-form [name="chainOfCustody[0].country"]', 'NE');
  await niger.fill('#respond-form [name="chainOfCustody[0].date"]', '2009-03-14');
  await niger.fill('#respond-form [name="chainOfCustody[0].documentReference"]', 'IMP-2009-0031');
  await Promise.all([niger.waitForURL(/done=respond/), niger.click('#respond-form button[type="submit"]')]);
  check((await niger.textContent('.thread')).includes('Partial chain of custody'), 'Niger sees its own answer');
  await niger.screenshot({ path: `${shots}/05-niger-answered-en.png`, fullPage: true });

  // The agency's case page updates live with the answer, in French; it closes the case.
  await senegal.waitForSelector('article[data-type="tracingResponse"]', { timeout: LIVE_TIMEOUT_MS });
  const thread = await senegal.textContent('.thread');
  check(thread.includes('Accusé de réception'), 'the acknowledgement is shown in French');
  check(thread.includes('Chaîne de détention partielle'), 'the outcome is shown in French');
  check(thread.includes('Société Sahel Import'), 'the chain of custody is shown');
  await senegal.screenshot({ path: `${shots}/06-senegal-answer-fr.png`, fullPage: true });

  // A second, identical request (the serial typed differently) shows the
  // duplicate warning naming the open request; nothing is sent (issue 17).
  const openCase = senegal.url().split('?')[0];
  const openId = openCase.match(/\/case\/([0-9a-f]{32})/)[1];
  await senegal.click('text=Nouvelle demande de traçage');
  await senegal.fill('[name="header.caseReference"]', 'SN-ZIG-2026-0150');
  await senegal.fill('[name="requestedStates[0].country"]', 'NE');
  await senegal.selectOption('[name="requestedStates[0].role"]', 'countryOfLastImport');
  await senegal.fill('[name="firearms[0].serialNumber"]', 'ak 4711 zg');
  await senegal.fill('[name="firearms[0].manufacturer"]', 'Manufacture d\'armes de Ouagadougou');
  await senegal.fill('[name="firearms[0].countryOfManufacture"]', 'BF');
  await senegal.selectOption('[name="firearms[0].type"]', 'rifleCarbine');
  await senegal.fill('[name="firearms[0].calibre"]', '7.62x39mm');
  await senegal.check('input[name="illicitBasis"][value="illicitUnderNationalLaw"]');
  await senegal.fill('[name="legalJustification"]', 'Code pénal du Sénégal, art. 92');
  await senegal.fill('[name="recovery.date"]', '2026-11-03');
  await senegal.fill('[name="intendedUse"]', 'enquête judiciaire');
  await senegal.check('input[name="informationSought"][value="chainOfCustody"]');
  await Promise.all([senegal.waitForNavigation(), senegal.click('#request-form button[type="submit"]')]);
  const warning = await senegal.textContent('.errors');
  check(warning.includes(openId), `the duplicate warning names the open request: ${warning}`);
  check(warning.includes('Même arme'), `the duplicate warning says why, in French: ${warning}`);
  check(await senegal.isVisible('#f-duplicate'), 'the officer may tick "send anyway"');
  await senegal.screenshot({ path: `${shots}/06b-senegal-duplicate-warning-fr.png`, fullPage: true });
  // The warning page is answered 422 (nothing was sent), which Chromium logs
  // as a failed resource: expected here, and the only such line allowed.
  const expected = problems.filter((problem) => problem.includes('status of 422'));
  check(expected.length === 1, `one 422 for the duplicate warning: ${problems.join('; ')}`);
  problems.splice(problems.indexOf(expected[0]), 1);
  await senegal.goto(openCase);
  await senegal.fill('#close-form [name="reason"]', 'Réponse reçue, enquête poursuivie');
  await Promise.all([senegal.waitForURL(/done=close/), senegal.click('#close-form button[type="submit"]')]);
  check((await senegal.textContent('#case-status')).trim() === 'clos', 'the case is closed');
  await senegal.screenshot({ path: `${shots}/07-senegal-closed-fr.png`, fullPage: true });

  // Niger sees the case closed.
  await niger.waitForSelector('#case-status:text("closed")', { timeout: LIVE_TIMEOUT_MS });
  await niger.screenshot({ path: `${shots}/08-niger-closed-en.png`, fullPage: true });
  check(problems.length === 0, `no script error or CSP violation in the pages: ${problems.join('; ')}`);
  console.log(`ok: screenshots in ${shots}`);
  await browser.close();
} catch (error) {
  console.error(`FAILED: ${error.message}`);
  if (problems.length) console.error(`page problems: ${problems.join('; ')}`);
  await senegal.screenshot({ path: `${shots}/failure-senegal.png`, fullPage: true }).catch(() => {});
  await niger.screenshot({ path: `${shots}/failure-niger.png`, fullPage: true }).catch(() => {});
  await browser.close();
  process.exit(1);
}
