/* Learnstats' own client-side functions, kept in this file rather than inline (the pages'
   Content-Security-Policy may allow scripts from /assets/ only). Clientside callbacks name them
   with ClientsideFunction("learnstats", name). */
window.dash_clientside = Object.assign({}, window.dash_clientside);
window.dash_clientside.learnstats = Object.assign({}, window.dash_clientside.learnstats, {
    /* The navbar's menu below 992 px (dashboards/components/shell.py): the toggler opens or closes it,
       a page change closes it. Returns [is_open, aria-expanded]. */
    toggleNavbar: function (nClicks, pathname, isOpen) {
        var ctx = window.dash_clientside.callback_context;
        var byToggler = ctx.triggered.some(function (t) {
            return t.prop_id.indexOf("shell-navbar-toggler") === 0;
        });
        var open = byToggler ? !isOpen : false;
        return [open, open ? "true" : "false"];
    }
});

var lsGridFuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

/* Enter on a focused grid cell that holds a link follows it (the links are not Tab stops of
   their own: a grid is one Tab stop, its cells are reached with the arrow keys).
   Grid event cellKeyDown (dashboards/components/grids.py, KEYBOARD_LISTENERS). */
lsGridFuncs.lsCellEnterFollowsLink = function (params) {
    var event = params && params.event;
    if (!event || event.key !== "Enter" || event.defaultPrevented) { return; }
    var cell = event.target && event.target.closest ? event.target.closest(".ag-cell") : null;
    var link = cell ? cell.querySelector("a[href]") : null;
    if (link) {
        event.preventDefault();
        link.click();
    }
};

/* Printing (issue 21): a grid with its own scroll bar shows only the rows in view; for paper
   each AG Grid of the page lays out every row it holds (domLayout "print"), and gets its
   screen layout back after printing. (The server-paged results tables print their page.) */
(function () {
    var saved = [];
    window.addEventListener("beforeprint", function () {
        if (!window.dash_ag_grid || !window.dash_ag_grid.getApi) { return; }
        document.querySelectorAll(".ag-root-wrapper").forEach(function (wrapper) {
            var host = wrapper.parentElement;
            while (host && !host.id) { host = host.parentElement; }
            if (!host) { return; }
            var api;
            try { api = window.dash_ag_grid.getApi(host.id); } catch (e) { return; }
            if (!api || api.getGridOption("rowModelType") === "infinite") { return; }
            saved.push({ api: api, host: host, layout: api.getGridOption("domLayout"), height: host.style.height });
            host.style.height = "";
            api.setGridOption("domLayout", "print");
        });
    });
    window.addEventListener("afterprint", function () {
        saved.forEach(function (grid) {
            grid.api.setGridOption("domLayout", grid.layout || "normal");
            grid.host.style.height = grid.height;
        });
        saved = [];
    });
})();
