/* Value formatters for dash-ag-grid ("valueFormatter": {"function": "lsPct(params.value)"}),
   the same formats as exports/formatting.py's fmt_* functions. */
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

/* The page's language (<html lang>, set by the server): French numbers take a decimal comma
   and French dates read "13 nov. 2026", as exports/formatting.py writes them. */
function lsFrench() { return (document.documentElement.lang || "").slice(0, 2) === "fr"; }

/* French dates as Babel writes them on the server ("13 nov. 2026"): the browser's own CLDR
   data (Intl), not a list of month names of ours. */
var LS_FR_DATE = new Intl.DateTimeFormat("fr-FR", {day: "numeric", month: "short", year: "numeric", timeZone: "UTC"});

function lsMissing(value) {
    return value === null || value === undefined || value === "" || (typeof value === "number" && isNaN(value));
}

/* Half-up rounding like the server's (2.25 -> 2.3), safe from binary float noise. */
function lsRound(value, decimals) {
    var factor = Math.pow(10, decimals);
    return Math.sign(value) * Math.round(Number((Math.abs(value) * factor).toPrecision(15))) / factor;
}

/* 12345 -> "12\u202f345" (narrow no-break space), as the server's fmt_int. */
function lsGroup(text) { return text.replace(/,/g, "\u202f"); }

dagfuncs.lsInt = function (value) {
    if (lsMissing(value)) { return "–"; }
    return lsGroup(lsRound(Number(value), 0).toLocaleString("en-US"));
};

dagfuncs.lsPct = function (value, decimals) {
    if (lsMissing(value)) { return "–"; }
    var d = decimals === undefined ? 1 : decimals;
    var text = lsRound(Number(value), d).toLocaleString("en-US", {minimumFractionDigits: d, maximumFractionDigits: d});
    text = lsGroup(text);
    if (lsFrench()) { text = text.replace(".", ","); }
    return text + "\u00a0%";
};

dagfuncs.lsDuration = function (seconds) {
    if (lsMissing(seconds)) { return "–"; }
    var minutes = lsRound(Math.max(Number(seconds), 0) / 60, 0);
    var hours = Math.floor(minutes / 60);
    minutes = minutes - hours * 60;
    if (hours) { return lsGroup(hours.toLocaleString("en-US")) + " h " + (minutes < 10 ? "0" : "") + minutes + " min"; }
    return minutes + " min";
};

/* A run's duration (the Data sources page): "4.2 s" ("4,2 s" in French) under a minute, then
   "2 min 05 s", then as lsDuration. */
dagfuncs.lsSeconds = function (seconds) {
    if (lsMissing(seconds)) { return "–"; }
    var value = Math.max(Number(seconds), 0);
    if (value < 59.95) {
        var text = lsRound(value, 1).toFixed(1);
        return (lsFrench() ? text.replace(".", ",") : text) + "\u00a0s";
    }
    if (value < 3600) {
        var whole = lsRound(value, 0);
        var rest = whole % 60;
        return Math.floor(whole / 60) + " min " + (rest < 10 ? "0" : "") + rest + " s";
    }
    return dagfuncs.lsDuration(value);
};

dagfuncs.lsDate = function (value) {
    if (lsMissing(value)) { return "–"; }
    var text = String(value).slice(0, 10);
    var parts = text.split("-");
    if (parts.length !== 3) { return String(value); }
    if (lsFrench()) { return LS_FR_DATE.format(new Date(Date.UTC(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2])))); }
    return parts[2] + "/" + parts[1] + "/" + parts[0];
};

/* "YYYY-MM-DD HH:MM" (local text, sorts as text) -> "DD/MM/YYYY HH:MM". */
dagfuncs.lsDateTime = function (value) {
    if (lsMissing(value)) { return "–"; }
    var text = String(value);
    if (text.length < 16) { return dagfuncs.lsDate(value); }
    return dagfuncs.lsDate(text.slice(0, 10)) + " " + text.slice(11, 16);
};

/* AG Grid's own texts (loading overlay, screen-reader labels, ...) in the page's language:
   "getLocaleText": {"function": "lsGridLocaleText(params, {...})"} (dashboards/components/grids.py).
   `own` holds the product's texts, translated by the server's catalogue (e.g. noRowsToShow);
   then, in French, AG Grid's French locale (assets/agGridLocaleFr.js); else AG Grid's English.
   "${variable}" is filled in as AG Grid's own localeText map does. */
dagfuncs.lsGridLocaleText = function (params, own) {
    var text = own && own[params.key];
    if (text === undefined && lsFrench() && window.LS_AG_GRID_LOCALE_FR) {
        text = window.LS_AG_GRID_LOCALE_FR[params.key];
    }
    if (text === undefined || text === null) { return params.defaultValue; }
    var values = params.variableValues || [];
    for (var i = 0; i < values.length && text.indexOf("${variable}") !== -1; i++) {
        text = text.replace("${variable}", values[i]);
    }
    return text;
};
