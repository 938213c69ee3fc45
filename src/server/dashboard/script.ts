/**
 * The dashboard's one client script, served at /dashboard/app.js (the CSP allows scripts from the
 * app only; no inline script, no event-handler attribute). Every page works without it; it adds:
 * copy buttons on truncated ids, the payload of a timeline event loaded when its details open,
 * and live updates (EventSource on `main[data-live]`) with a pause control.
 *
 * Rows arrive rendered and escaped by the server (live.ts); they are parsed with a <template>,
 * which runs no script. Plain ES2017, no build step.
 */
export const SCRIPT = String.raw`(function () {
  'use strict';
  var main = document.getElementById('main');

  // Copy buttons: shown only here, since without a script there is nothing to copy with.
  function enableCopy(root) {
    if (!navigator.clipboard) return;
    root.querySelectorAll('button.copy[data-copy]').forEach(function (button) {
      button.hidden = false;
    });
  }
  document.addEventListener('click', function (event) {
    var button = event.target.closest ? event.target.closest('button.copy[data-copy]') : null;
    if (!button) return;
    navigator.clipboard.writeText(button.getAttribute('data-copy')).then(function () {
      button.textContent = 'copied';
      setTimeout(function () { button.textContent = 'copy'; }, 1500);
    }, function () {
      button.textContent = 'copy failed';
    });
  });
  enableCopy(document);

  // A timeline event's payload, fetched the first time its details open.
  document.addEventListener('toggle', function (event) {
    var details = event.target;
    if (!details || details.tagName !== 'DETAILS' || !details.open) return;
    var src = details.getAttribute('data-payload-src');
    if (!src || details.getAttribute('data-loaded') === 'true') return;
    details.setAttribute('data-loaded', 'true');
    var box = details.querySelector('.payload');
    fetch(src, { credentials: 'same-origin', headers: { accept: 'text/html' } }).then(function (res) {
      return res.text().then(function (text) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        box.innerHTML = text;
      });
    }).catch(function (err) {
      details.setAttribute('data-loaded', 'false');
      box.insertAdjacentText('afterbegin', 'The payload could not be loaded (' + err.message + '). ');
    });
  }, true);

  if (!main || !main.getAttribute('data-live') || typeof EventSource === 'undefined') return;

  var controls = document.getElementById('live-controls');
  var toggle = document.querySelector('[data-live-toggle]');
  var status = document.querySelector('[data-live-status]');
  var showButton = document.querySelector('[data-live-show]');
  var paused = false;
  var queue = [];
  var missed = 0;
  var numbers = new Intl.NumberFormat('en-US');

  function fromHtml(text) {
    var template = document.createElement('template');
    template.innerHTML = text.trim();
    return template.content.firstElementChild;
  }

  function setStatus(text) {
    if (status) status.textContent = text;
  }

  function updateShowButton() {
    var pending = queue.length + missed;
    if (!showButton) return;
    showButton.hidden = pending === 0;
    showButton.textContent = pending + ' new — show';
  }

  // A row for a list this page has: put on top (or at the end of a timeline), replacing the row
  // of the same thing; on a filtered or later page, count it and offer a reload instead.
  function place(list, row) {
    var mode = list.getAttribute('data-live-insert');
    if (mode !== 'true' && mode !== 'bottom') {
      missed++;
      return;
    }
    var node = fromHtml(row);
    if (!node) return;
    var id = node.getAttribute('data-id');
    if (id) {
      list.querySelectorAll(':scope > [data-id]').forEach(function (old) {
        if (old.getAttribute('data-id') === id) old.remove();
      });
    }
    var empty = list.querySelector(':scope > .empty-row');
    if (empty) empty.remove();
    node.classList.add('fresh');
    if (mode === 'bottom') list.appendChild(node);
    else list.insertBefore(node, list.firstChild);
    enableCopy(node);
  }

  function apply(message) {
    if (message.type === 'event') {
      var rows = message.data.rows || {};
      document.querySelectorAll('[data-live-rows]').forEach(function (list) {
        var row = rows[list.getAttribute('data-live-rows')];
        if (row) place(list, row);
      });
      ['status', 'decision'].forEach(function (field) {
        var badge = document.querySelector('#transaction-facts [data-field="' + field + '"] .badge');
        var value = message.data[field];
        if (badge && value) {
          badge.className = 'badge ' + value;
          badge.textContent = value;
        }
      });
    } else if (message.type === 'counts') {
      var counts = message.data.counts || {};
      document.querySelectorAll('[data-count]').forEach(function (el) {
        var key = el.getAttribute('data-count');
        if (Object.prototype.hasOwnProperty.call(counts, key)) el.textContent = numbers.format(counts[key]);
      });
    } else if (message.type === 'delivery') {
      var d = message.data;
      var found = false;
      document.querySelectorAll('[data-delivery-id]').forEach(function (el) {
        if (el.getAttribute('data-delivery-id') !== d.deliveryId) return;
        found = true;
        if (el.hasAttribute('data-delivery-state')) {
          el.setAttribute('data-delivery-state', d.state);
          el.className = 'badge ' + d.state;
          el.textContent = d.state;
        } else if (el.hasAttribute('data-delivery-attempts')) {
          el.textContent = numbers.format(d.attempts);
        }
      });
      // A delivery this page does not show is news only where the page lists the transaction's
      // deliveries (a new one appeared); a delivery's own page ignores its siblings.
      if (!found && document.querySelector('[data-list="transaction-deliveries"]')) missed++;
    } else if (message.type === 'gap') {
      missed++;
    }
    updateShowButton();
  }

  function receive(type) {
    return function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      var message = { type: type, data: data };
      if (paused) {
        if (queue.length < 500) queue.push(message); else missed++;
        updateShowButton();
        return;
      }
      apply(message);
    };
  }

  var source = new EventSource(main.getAttribute('data-live'));
  ['event', 'counts', 'delivery', 'gap'].forEach(function (type) {
    source.addEventListener(type, receive(type));
  });
  source.addEventListener('open', function () {
    if (controls) controls.hidden = false;
    setStatus(paused ? 'Live updates paused' : 'Live');
    main.setAttribute('data-live-state', paused ? 'paused' : 'open');
  });
  source.addEventListener('error', function () {
    setStatus('Reconnecting…');
    main.setAttribute('data-live-state', 'reconnecting');
  });

  if (toggle) {
    toggle.addEventListener('click', function () {
      paused = !paused;
      toggle.setAttribute('aria-pressed', paused ? 'true' : 'false');
      toggle.textContent = paused ? 'Resume live updates' : 'Pause live updates';
      main.setAttribute('data-live-state', paused ? 'paused' : 'open');
      setStatus(paused ? 'Live updates paused' : 'Live');
      if (!paused) flush();
    });
  }

  // "N new — show": what arrived while paused; rows a page cannot place need a reload.
  function flush() {
    var pending = queue;
    queue = [];
    pending.forEach(apply);
    if (missed > 0) {
      location.reload();
      return;
    }
    updateShowButton();
  }
  if (showButton) showButton.addEventListener('click', flush);
})();
`;
