// fpx desk: the little script the pages use (served from /static/desk.js,
// the only script the Content-Security-Policy allows; no inline script).
'use strict';

// Live updates: the server sends an event when a delivery was saved (or a
// message sent); pages that list messages reload to show it.
function followDeliveries() {
  if (!document.body.dataset.live || typeof EventSource === 'undefined') return;
  const source = new EventSource('/events');
  // A form on its way must not be overtaken by a reload (its own send wakes
  // the stream too): once one is submitted, the page stops following.
  document.addEventListener('submit', () => source.close());
  source.addEventListener('delivery', () => {
    const notice = document.getElementById('live-notice');
    if (notice) notice.hidden = false;
    // A form being filled in is never thrown away: only reload when none has focus.
    const active = document.activeElement;
    if (active && (active.tagName === 'INPUT' || active.tagName === 'TEXTAREA' || active.tagName === 'SELECT')) return;
    window.location.reload();
  });
}

// Identifier completeness while typing: the server scores the firearm with
// the same rule the exchange applies and names what is missing.
function followCompleteness() {
  const form = document.getElementById('request-form');
  const output = document.getElementById('completeness');
  if (!form || !output) return;
  let timer = null;
  const update = () => {
    const query = new URLSearchParams();
    for (const field of form.querySelectorAll('[name^="firearms[0]."]')) query.append(field.name, field.value);
    fetch('/completeness?' + query.toString(), { credentials: 'same-origin' })
      .then((response) => (response.ok ? response.json() : null))
      .then((report) => {
        if (!report) return;
        output.textContent = report.label + ': ' + report.score + '/100' +
          (report.missing.length ? ' · ' + report.missingLabel + ': ' + report.missing.join(', ') : '');
        output.dataset.score = String(report.score);
      })
      .catch(() => {});
  };
  form.addEventListener('input', (event) => {
    if (!event.target.name || !event.target.name.startsWith('firearms[0].')) return;
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  });
  form.addEventListener('change', (event) => {
    if (event.target.name && event.target.name.startsWith('firearms[0].')) update();
  });
}

// Attachments (issue 17): type, size and count checked before the form is
// sent, from the limits the server writes into the input's data- attributes.
// The server checks again (the type by the file's first bytes), and so does
// the exchange: this only spares the officer a round trip.
function checkAttachments() {
  const input = document.getElementById('f-attachments');
  if (!input) return;
  const allowed = ['image/jpeg', 'image/png', 'application/pdf'];
  const check = () => {
    const files = Array.from(input.files || []);
    const maxFiles = Number(input.dataset.maxFiles);
    const maxBytes = Number(input.dataset.maxBytes);
    const maxTotal = Number(input.dataset.maxTotalBytes);
    let message = '';
    if (files.some((file) => !allowed.includes(file.type))) {
      message = input.dataset.messageType;
    } else if (files.length > maxFiles || files.some((file) => file.size > maxBytes) ||
               files.reduce((sum, file) => sum + file.size, 0) > maxTotal) {
      message = input.dataset.messageSize;
    }
    input.setCustomValidity(message);
    if (message) input.reportValidity();
  };
  input.addEventListener('change', check);
}

// The import page's CSV (issue 17): a file over the desk's limit is refused
// here, with the page's own translated message, before it is sent: the
// server answers 413 without reading it, which a browser may show as a
// broken connection instead of the page.
function checkImportFile() {
  const input = document.getElementById('f-csv');
  if (!input) return;
  const check = () => {
    const file = (input.files || [])[0];
    const message = file && file.size > Number(input.dataset.maxBytes) ? input.dataset.messageSize : '';
    input.setCustomValidity(message);
    if (message) input.reportValidity();
  };
  input.addEventListener('change', check);
}

document.addEventListener('DOMContentLoaded', () => {
  followDeliveries();
  followCompleteness();
  checkAttachments();
  checkImportFile();
});
