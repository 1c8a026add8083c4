/* Plotly's French dates and numbers (charts' axes and hovers: "13 nov.", "novembre 2026",
   "12 345,6"), for the French interface (dashboards/components/chart_cards.py sets config.locale).
   Plotly is loaded after the assets: it registers window.PlotlyLocales when it starts. */
(function () {
    var locale = {
        moduleType: "locale",
        name: "fr",
        dictionary: {},
        format: {
            days: ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
            shortDays: ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
            months: ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                     "septembre", "octobre", "novembre", "décembre"],
            shortMonths: ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août",
                          "sept.", "oct.", "nov.", "déc."],
            date: "%d/%m/%Y",
            decimal: ",",
            thousands: "\u202f"
        }
    };
    if (typeof window.Plotly !== "undefined" && window.Plotly.register) {
        window.Plotly.register(locale);
    } else {
        window.PlotlyLocales = window.PlotlyLocales || [];
        window.PlotlyLocales.push(locale);
    }
})();
