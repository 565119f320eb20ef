// The desk's bulk import in a real browser (issue 17; Debian's headless
// Chromium driven by playwright-core): a Senegalese customs officer, with the
// desk in French, imports the CSV of a seizure of 200 firearms of which four
// lines are wrong (an impossible date, an unknown type, a formula cell, a
// right-to-left override hidden in a serial number). The page names each
// problem by line and column; the officer sends the lines that are ready; the
// requests are in the desk's list of our requests. Run by ctest through
// desk_browser_test.cpp, which starts the broker and the desk, passes its URL
// and afterwards counts the requests the broker stored. Screenshots go to
// $FPX_SCREENSHOT_DIR.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const snUrl = process.env.DESK_SN_URL;
const shots = process.env.FPX_SCREENSHOT_DIR;
const chromiumPath = process.env.FPX_CHROMIUM || '/usr/bin/chromium';
if (!snUrl || !shots) {
  console.error('set DESK_SN_URL and FPX_SCREENSHOT_DIR (desk_browser_test.cpp does)');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

// Checking 200 lines takes well under a second, sending them a few seconds;
// the bound only stops a hung run on a loaded machine.
const IMPORT_TIMEOUT_MS = 240000;
const LINES = 200;
// Physical line numbers in the file (line 1 names the columns) of the wrong lines.
const BAD = new Map([
  [12, ['recovery_date', (serial) => line(serial, { date: '2026-13-45' })]],
  [57, ['type', (serial) => line(serial, { type: 'fusil-mitrailleur' })]],
  [101, ['serial_number', () => line("=CMD|' /C calc'!A0")]],
  [188, ['serial_number', (serial) => line(`${serial.slice(0, 6)}\u202e${serial.slice(6)}`)]],
]);

const HEADER = 'serial_number,manufacturer,model,type,calibre,country_of_manufacture,recovery_date,' +
  'administrative_area,circumstance,requested_states,case_reference,illicit_basis,legal_justification,' +
  'intended_use,information_sought\n';

function line(serial, { date = '2026-11-02', type = 'rifle-carbine' } = {}) {
  return `${serial},Manufacture d'armes de Ouagadougou,MAO-47,${type},7.62x39mm,BF,${date},Dakar,seized,` +
    `NE:country-of-last-import,SN-DKR-2026-${serial.replace(/[^0-9]/g, '').padStart(4, '0')},` +
    'illicit-under-national-law,"Code pénal du Sénégal, art. 92",enquête judiciaire,chain-of-custody\n';
}

// Every third line ends in CRLF, as hand edits of a spreadsheet's export
// leave them: the confirmation must send these bytes back unchanged (a
// textarea, which carried the file before, is submitted with CRLF for every
// line break).
let csv = HEADER;
for (let n = 1; n <= LINES; n++) {
  const physical = n + 1;
  const serial = `DKR-${String(n).padStart(4, '0')}-ZG`;
  const text = BAD.has(physical) ? BAD.get(physical)[1](serial) : line(serial);
  csv += n % 3 === 0 ? text.replace(/\n$/, '\r\n') : text;
}
const ready = LINES - BAD.size;

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--no-first-run'],
});
const page = await (await browser.newContext({ locale: 'fr-SN' })).newPage();
page.setDefaultTimeout(IMPORT_TIMEOUT_MS);
const problems = [];
page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
page.on('pageerror', (error) => problems.push(error.message));

function check(condition, message) {
  if (!condition) throw new Error(message);
}

try {
  await page.goto(snUrl);
  await Promise.all([page.waitForURL(/\/import$/), page.click('text=Importer un CSV')]);
  check((await page.textContent('h1')).includes('Importer des armes à feu saisies'), 'the import page is in French');
  const help = await page.textContent('#f-csv-help');
  check(help.includes('1024 Kio') && help.includes('500 lignes'), `the page says the limits: ${help}`);
  await page.setInputFiles('#f-csv', { name: 'saisie-port-de-dakar.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.screenshot({ path: `${shots}/11-import-file-chosen-fr.png`, fullPage: true });

  // Checked: nothing is sent; every wrong line is named with its column.
  await Promise.all([page.waitForNavigation(), page.click('#import-form button[value="check"]')]);
  const summary = await page.textContent('#import-summary');
  check(summary.includes(`${LINES} ligne(s) vérifiée(s) : ${ready} prête(s), ${BAD.size} à corriger.`),
        `the summary counts the lines: ${summary}`);
  const invalid = await page.$$eval('#import-lines tr.invalid', (rows) => rows.map((row) => row.dataset.line));
  check(JSON.stringify(invalid) === JSON.stringify([...BAD.keys()].map(String)),
        `exactly the wrong lines are to fix: ${invalid}`);
  for (const [physical, [column]] of BAD) {
    const text = await page.textContent(`#import-lines tr[data-line="${physical}"]`);
    check(text.includes(`colonne ${column}`), `line ${physical} names its column ${column}: ${text}`);
    check(text.includes('à corriger, non envoyée'), `line ${physical} is not sent: ${text}`);
  }
  // The formula cell is shown back as text, never run; no markup came from the file.
  const formula = await page.textContent('#import-lines tr[data-line="101"]');
  check(formula.includes('colonne serial_number : commence par =, +, - ou @, qu\'un tableur exécute comme une formule'),
        `the formula cell is named, in French: ${formula}`);
  const bidi = await page.textContent('#import-lines tr[data-line="188"]');
  check(bidi.includes('caractère de contrôle bidirectionnel'), `the right-to-left override is named, in French: ${bidi}`);
  const toFix = await page.textContent('#import-to-fix');
  check(toFix.includes('Lignes à corriger') && [...BAD.keys()].every((n) => toFix.includes(String(n))),
        `the lines to fix are listed at the top: ${toFix}`);
  await page.screenshot({ path: `${shots}/12-import-checked-problems-fr.png`, fullPage: true });
  // The officer follows the link to a line to fix: what the screen shows there.
  await page.click('#import-to-fix a[href="#line-101"]');
  await page.screenshot({ path: `${shots}/12b-import-line-to-fix-fr.png` });
  // The check is answered 422 (lines are left to fix), which Chromium logs
  // as a failed resource: expected here.
  const expected = problems.filter((problem) => problem.includes('status of 422'));
  check(expected.length === 1, `one 422 for the checked file: ${problems.join('; ')}`);
  problems.splice(problems.indexOf(expected[0]), 1);

  // The officer sends the ready drafts: exactly the file just checked.
  const confirm = await page.textContent('#import-confirm button');
  check(confirm.includes(`Envoyer les ${ready} ligne(s) prête(s)`), `the button says what it sends: ${confirm}`);
  const confirmation = page.waitForRequest((request) => request.method() === 'POST' && request.url().endsWith('/import'));
  await Promise.all([page.waitForNavigation({ timeout: IMPORT_TIMEOUT_MS }), page.click('#import-confirm button')]);
  // What the browser sent back is the file checked, byte for byte.
  const posted = (await confirmation).postDataBuffer().toString('latin1');
  const field = posted.match(/name="checked_csv_base64"\r\n\r\n([A-Za-z0-9+\/=]*)\r\n/);
  check(field !== null, 'the confirmation carries the checked file as base64');
  check(Buffer.from(field[1], 'base64').equals(Buffer.from(csv)),
        'the confirmation sends back exactly the bytes of the file checked (CRLF and LF kept)');
  check(!posted.includes('name="csv"'), 'no textarea copy of the file is sent');
  const sent = await page.textContent('#import-summary');
  check(sent.includes(`${ready} demande(s) de traçage envoyée(s).`), `the ready lines were sent: ${sent}`);
  const links = await page.$$eval('#import-lines a[href^="/case/"]', (anchors) => anchors.length);
  check(links === ready, `each sent line links to its case: ${links}`);
  await page.screenshot({ path: `${shots}/13-import-sent-fr.png`, fullPage: true });
  // Still lines to fix: the page is answered 422 again.
  const again = problems.filter((problem) => problem.includes('status of 422'));
  check(again.length === 1, `one 422 for the sent file with lines to fix: ${problems.join('; ')}`);
  problems.splice(problems.indexOf(again[0]), 1);

  // The requests are in the desk's cases; a wrong line's is not.
  await page.goto(new URL('/', page.url()).toString());
  const inbox = await page.textContent('body');
  for (const n of [1, 10, 99, 199, 200]) {
    const reference = `SN-DKR-2026-${String(n).padStart(4, '0')}`;
    check(inbox.includes(reference), `request ${reference} is listed`);
  }
  // Lines 12, 57 and 188 of the file (firearms 11, 56 and 187) were not sent.
  for (const n of [11, 56, 187]) {
    const reference = `SN-DKR-2026-${String(n).padStart(4, '0')}`;
    check(!inbox.includes(reference), `the wrong line's ${reference} was not sent`);
  }
  await page.screenshot({ path: `${shots}/14-import-inbox-fr.png`, fullPage: true });
  check(problems.length === 0, `no script error or CSP violation in the pages: ${problems.join('; ')}`);
  console.log(`ok: ${ready} requests sent; screenshots in ${shots}`);
  await browser.close();
} catch (error) {
  console.error(`FAILED: ${error.message}`);
  if (problems.length) console.error(`page problems: ${problems.join('; ')}`);
  await page.screenshot({ path: `${shots}/failure-import.png`, fullPage: true }).catch(() => {});
  await browser.close();
  process.exit(1);
}
