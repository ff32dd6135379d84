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
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
