// The quiz player's keyboard shortcuts, strike-out and clock, and the session builder's filter
// groups (no inline script: the CSP forbids it). Both pages work without this file: every
// action is a form or a link. With it:
//   A–E or 1–5 toggle an option, Enter submits (or goes on after the correction), N next,
//   F flag, S skip, P pause or resume, X then a letter strikes an option out, ? opens or
//   closes the list of shortcuts, Escape closes it.
// Shortcuts never fire while typing in a text field or with Ctrl, Alt or Meta held.
// Markup contract (templates/practice/player.html, paused.html, parts.html, builder.html):
//   form#answer-form; option inputs carry data-key="A" data-index="1";
//   option rows [data-option-row="A"]; strike buttons button.strike[data-option="A"]
//   (hidden, [data-needs-script], aria-pressed); buttons or links
//   [data-shortcut="next|flag|skip|pause|help"]; details#shortcut-help whose summary is
//   [data-shortcut="help"]; clocks [data-remaining-ms] (counts down from the server's figure;
//   at zero the page reloads once and the server says what happens);
//   builder: select[data-filters-for="subject"] and fieldset.filter-group[data-subject].
(function () {
  'use strict';
  var striking = false;

  function typing(el) {
    if (!el) return false;
    var tag = (el.tagName || '').toLowerCase();
    if (tag === 'textarea' || tag === 'select' || el.isContentEditable) return true;
    if (tag === 'input') {
      var t = (el.getAttribute('type') || 'text').toLowerCase();
      return ['checkbox', 'radio', 'button', 'submit', 'reset'].indexOf(t) < 0;
    }
    return false;
  }

  function byShortcut(name) {
    return document.querySelector('[data-shortcut="' + name + '"]');
  }

  function activate(el) {
    if (!el || el.disabled) return false;
    el.click();
    return true;
  }

  function optionFor(key) {
    var k = key.toUpperCase();
    var byKey = document.querySelector('#answer-form input[data-key="' + k + '"]');
    if (byKey) return byKey;
    return document.querySelector('#answer-form input[data-index="' + k + '"]');
  }

  function strike(letter) {
    var btn = document.querySelector('button.strike[data-option="' + letter.toUpperCase() + '"]');
    if (btn) btn.click();
  }

  function toggleHelp(show) {
    var help = document.getElementById('shortcut-help');
    if (!help) return;
    var open = typeof show === 'boolean' ? show : !help.open;
    help.open = open;
    var summary = help.querySelector('summary');
    if (summary) summary.focus();
  }

  function native(el) {
    if (!el || !el.tagName) return false;
    var tag = el.tagName.toLowerCase();
    return tag === 'button' || tag === 'a' || tag === 'summary';
  }

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    if (typing(e.target)) return;
    var key = e.key;
    if (key === 'Escape') {
      striking = false;
      var help = document.getElementById('shortcut-help');
      if (help && help.open) toggleHelp(false);
      return;
    }
    if (key === '?') {
      toggleHelp();
      e.preventDefault();
      return;
    }
    if (striking) {
      striking = false;
      if (/^[a-eA-E1-5]$/.test(key)) {
        var target = optionFor(key);
        if (target) strike(target.getAttribute('data-key'));
        e.preventDefault();
      }
      return;
    }
    if (/^[a-eA-E1-5]$/.test(key)) {
      var input = optionFor(key);
      if (input && !input.disabled) {
        input.click();
        input.focus();
        e.preventDefault();
      }
      return;
    }
    var lower = key.toLowerCase();
    if (key === 'Enter') {
      if (native(e.target)) return;
      var own = e.target.closest ? e.target.closest('form') : null;
      if (own && own.id !== 'answer-form') return;
      var form = document.getElementById('answer-form');
      var submit = form && form.querySelector('button[type="submit"]');
      if (form && submit && !submit.disabled) {
        e.preventDefault();
        if (form.requestSubmit) form.requestSubmit(submit); else submit.click();
      } else if (activate(byShortcut('next'))) {
        e.preventDefault();
      }
      return;
    }
    var names = { n: 'next', f: 'flag', s: 'skip', p: 'pause' };
    if (lower === 'x') {
      striking = true;
      e.preventDefault();
    } else if (names[lower] && activate(byShortcut(names[lower]))) {
      e.preventDefault();
    }
  }

  function onClick(e) {
    var btn = e.target.closest ? e.target.closest('button.strike') : null;
    if (btn) {
      var letter = btn.getAttribute('data-option');
      var row = document.querySelector('[data-option-row="' + letter + '"]');
      var on = btn.getAttribute('aria-pressed') !== 'true';
      btn.setAttribute('aria-pressed', on ? 'true' : 'false');
      if (row) row.classList.toggle('struck', on);
      e.preventDefault();
      return;
    }
  }

  function clockText(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600);
    var m = Math.floor(s / 60) % 60;
    var r = s % 60;
    var mm = h > 0 ? (m < 10 ? '0' : '') + m : String(m);
    return (h > 0 ? h + ':' : '') + mm + ':' + (r < 10 ? '0' : '') + r;
  }

  var deadlines = [];
  var reloaded = false;

  function startClocks() {
    var now = Date.now();
    var els = document.querySelectorAll('[data-remaining-ms]');
    for (var i = 0; i < els.length; i++) {
      var left = Number(els[i].getAttribute('data-remaining-ms'));
      deadlines.push({ el: els[i], at: now + left, running: left > 0 });
    }
  }

  function tick() {
    var now = Date.now();
    for (var i = 0; i < deadlines.length; i++) {
      var d = deadlines[i];
      var left = d.at - now;
      d.el.textContent = clockText(left);
      if (left <= 0 && d.running && !reloaded) {
        // The server decides what the end of the time means (it ends the session).
        reloaded = true;
        window.location.reload();
      }
    }
  }

  function filterGroups() {
    var select = document.querySelector('select[data-filters-for="subject"]');
    if (!select) return;
    var groups = document.querySelectorAll('fieldset.filter-group[data-subject]');
    for (var i = 0; i < groups.length; i++) {
      var mine = groups[i].getAttribute('data-subject') === select.value;
      groups[i].hidden = !mine;
      if (!mine) {
        var boxes = groups[i].querySelectorAll('input');
        for (var j = 0; j < boxes.length; j++) boxes[j].checked = false;
      }
    }
  }

  function init() {
    document.addEventListener('keydown', onKey);
    document.addEventListener('click', onClick);
    // Unhide the help button and strike buttons only when this script runs.
    var hidden = document.querySelectorAll('[data-needs-script]');
    for (var i = 0; i < hidden.length; i++) hidden[i].hidden = false;
    document.body.addEventListener('htmx:afterSwap', function () {
      var again = document.querySelectorAll('[data-needs-script]');
      for (var k = 0; k < again.length; k++) again[k].hidden = false;
      tick();
    });
    var subject = document.querySelector('select[data-filters-for="subject"]');
    if (subject) {
      subject.addEventListener('change', filterGroups);
      filterGroups();
    }
    startClocks();
    if (deadlines.length) {
      tick();
      window.setInterval(tick, 1000);
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
