// The quiz player's keyboard shortcuts, strike-out and clock (no inline script: the CSP forbids
// it). The player works without this file: every action is a form or a link. With it:
//   A–E or 1–5 toggle an option, Enter submits, N next, F flag, S skip, P pause,
//   X then a letter strikes an option out, ? opens the list of shortcuts, Escape closes it.
// Shortcuts never fire while typing in a text field or with Ctrl, Alt or Meta held.
// Markup contract (templates/practice/player.html):
//   form#answer-form; option inputs carry data-key="A" data-index="1";
//   option rows [data-option-row="A"]; strike buttons button.strike[data-option="A"];
//   buttons or links [data-shortcut="next|flag|skip|pause|help"]; #shortcut-help (hidden);
//   clocks [data-deadline-ms] (counts down to an epoch-ms instant) and [data-started-ms]
//   (counts up), whose text is replaced by m:ss.
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
    var open = typeof show === 'boolean' ? show : help.hidden;
    help.hidden = !open;
    var opener = byShortcut('help');
    if (opener) opener.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (open) {
      help.focus();
    } else if (opener) {
      opener.focus();
    }
  }

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    if (typing(e.target)) return;
    var key = e.key;
    if (key === 'Escape') {
      striking = false;
      toggleHelp(false);
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
    var help = e.target.closest ? e.target.closest('[data-shortcut="help"]') : null;
    if (help) {
      toggleHelp();
      e.preventDefault();
    }
  }

  function clockText(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var m = Math.floor(s / 60);
    var r = s % 60;
    return m + ':' + (r < 10 ? '0' : '') + r;
  }

  function tick() {
    var now = Date.now();
    var down = document.querySelectorAll('[data-deadline-ms]');
    for (var i = 0; i < down.length; i++) {
      down[i].textContent = clockText(Number(down[i].getAttribute('data-deadline-ms')) - now);
    }
    var up = document.querySelectorAll('[data-started-ms]');
    for (var j = 0; j < up.length; j++) {
      up[j].textContent = clockText(now - Number(up[j].getAttribute('data-started-ms')));
    }
  }

  function init() {
    // Struck options the learner had before a swap are not kept: a new item starts clean.
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
    tick();
    window.setInterval(tick, 1000);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
