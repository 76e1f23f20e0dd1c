// Sets the colour theme before the first paint (a classic script in <head>, so there is no flash of the
// wrong theme): the saved choice ("light", "dark"), or the system's when the choice is "system".
(function () {
  var root = document.documentElement;
  var media = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;
  function choice() {
    try { return JSON.parse(localStorage.getItem('confab.theme')) || 'system'; } catch (e) { return 'system'; }
  }
  function apply() {
    var c = choice();
    root.dataset.themeChoice = c;
    root.dataset.theme = c === 'system' ? (media && media.matches ? 'dark' : 'light') : c;
  }
  apply();
  if (media && media.addEventListener) media.addEventListener('change', apply);
  window.confabApplyTheme = apply;
})();
