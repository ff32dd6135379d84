// MyQCM's own script (no inline script: the CSP forbids it). Pages work without it; it only
// makes mail links one click: the verification and reset links carry their token in the URL
// fragment (never sent to the server by the browser), which this script copies into the form.
(function () {
  'use strict';
  function fragmentToken() {
    var m = /(?:^|[#&])token=([A-Za-z0-9_-]+)/.exec(window.location.hash || '');
    return m ? m[1] : null;
  }
  function init() {
    var token = fragmentToken();
    if (!token) return;
    var forms = document.querySelectorAll('form.fragment-token');
    for (var i = 0; i < forms.length; i++) {
      var form = forms[i];
      var input = form.querySelector('input[name="token"]');
      if (!input) continue;
      input.value = token;
      form.hidden = false;
      // Forget the token in the address bar and history once it is in the form.
      history.replaceState(null, '', window.location.pathname + window.location.search);
      if (form.getAttribute('data-autosubmit') === 'true') {
        form.submit();
        return;
      }
      var next = form.querySelector('input[type="password"]');
      if (next) next.focus();
    }
  }
  // A mail link opened on the page it points to only changes the fragment.
  window.addEventListener('hashchange', init);
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();

// Live job progress: an element with data-job-events="<URL of the job's event stream>"
// follows the server-sent events of that job: its <progress> (created when missing),
// [data-job-percent] and [data-job-message] are updated, and the page reloads once the job
// has ended (so the list and the buttons show the final state). Without the script the page
// shows the state at load time and a reload shows the rest.
(function () {
  'use strict';
  if (!window.EventSource) return;
  function follow(el) {
    var url = el.getAttribute('data-job-events');
    if (!url || (url.indexOf('/api/v1/admin/jobs/') !== 0 && url.indexOf('/api/v1/admin/imports/') !== 0)) return;
    var source = new EventSource(url);
    source.addEventListener('job', function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (_) { return; }
      if (typeof ev.progress === 'number') {
        var percent = Math.round(ev.progress * 100);
        var label = el.querySelector('[data-job-percent]');
        var bar = el.querySelector('progress');
        if (!bar && label) {
          bar = document.createElement('progress');
          bar.max = 100;
          var table = el.closest('table');
          var head = table ? table.querySelectorAll('thead th')[2] : null;
          if (head) bar.setAttribute('aria-label', head.textContent);
          label.parentNode.insertBefore(bar, label);
          label.parentNode.insertBefore(document.createTextNode(' '), label);
        }
        if (bar) {
          bar.value = percent;
          bar.textContent = percent + ' %';
        }
        if (label) label.textContent = percent + ' %';
      }
      var msg = el.querySelector('[data-job-message]');
      if (msg && ev.message) msg.textContent = ev.message;
      if (ev.finished) {
        source.close();
        window.setTimeout(function () { window.location.reload(); }, 800);
      }
    });
    // The stream ends with the job; do not let the browser reconnect forever on errors.
    source.addEventListener('error', function () {
      if (source.readyState === EventSource.CLOSED) return;
      source.close();
    });
  }
  function init() {
    var els = document.querySelectorAll('[data-job-events]');
    for (var i = 0; i < els.length; i++) follow(els[i]);
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();

