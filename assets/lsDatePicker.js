/* Dash 4's date pickers in the interface's language (issue 12, docs/decisions.md).

   1. Month and weekday names: the picker formats them with the date-fns locale it finds in
      window.dateFns.locale (date-fns-locale-fr.min.js, loaded just before this file, puts
      French there), choosing by the BROWSER's languages, else the first one. Keep only the
      interface's language (<html lang>, set by the server): French, or none at all for
      English (the picker then uses date-fns's own en-US).
   2. Its buttons' aria-labels ("Previous month", "Close calendar"...) are written in English
      in Dash's code, as are the dialogs' close button's ("Close") and the pagination's
      screen-reader texts ("(current)", "More") in dash-bootstrap-components'. The layout carries them translated from the catalogue (a hidden element
      #ls-component-labels, data-labels = {English: translation}, dashboards/components/texts.py);
      each such button is relabelled as soon as it appears. */
(function () {
    var language = (document.documentElement.lang || "").toLowerCase().split("-")[0];
    var fns = window.dateFns || {};
    var known = fns.locale || {};
    var chosen = {};
    if (Object.prototype.hasOwnProperty.call(known, language)) {
        chosen[language] = known[language];
    }
    window.dateFns = Object.assign({}, fns, { locale: chosen });

    var SELECTOR = [
        ".dash-datepicker-month-nav",
        ".dash-datepicker-close-button",
        ".dash-datepicker-clear",
        ".dash-input-stepper",
        ".btn-close"
    ].join(",");
    /* Texts for screen readers only, written in English by dash-bootstrap-components. */
    var TEXT_SELECTOR = ".pagination .visually-hidden";
    var labels = null;

    function readLabels() {
        var holder = document.getElementById("ls-component-labels");
        if (!holder) { return null; }
        try {
            return JSON.parse(holder.getAttribute("data-labels") || "{}");
        } catch (error) {
            return {};
        }
    }

    function relabel() {
        labels = labels || readLabels();
        if (!labels) { return; }
        var buttons = document.querySelectorAll(SELECTOR);
        for (var i = 0; i < buttons.length; i++) {
            var english = buttons[i].getAttribute("aria-label");
            var translated = english && Object.prototype.hasOwnProperty.call(labels, english)
                ? labels[english] : null;
            if (translated && translated !== english) {
                buttons[i].setAttribute("aria-label", translated);
            }
        }
        var hidden = document.querySelectorAll(TEXT_SELECTOR);
        for (var j = 0; j < hidden.length; j++) {
            var text = hidden[j].textContent;
            if (Object.prototype.hasOwnProperty.call(labels, text) && labels[text] !== text) {
                hidden[j].textContent = labels[text];
            }
        }
    }

    function start() {
        new MutationObserver(function (records) {
            for (var i = 0; i < records.length; i++) {
                if (records[i].addedNodes.length) { relabel(); return; }
            }
        }).observe(document.body, { childList: true, subtree: true });
        relabel();
    }

    if (document.body) {
        start();
    } else {
        document.addEventListener("DOMContentLoaded", start);
    }
})();
