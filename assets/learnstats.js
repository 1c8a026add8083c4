/* Learnstats' own client-side functions, kept in this file rather than inline (the pages'
   Content-Security-Policy may allow scripts from /assets/ only). Clientside callbacks name them
   with ClientsideFunction("learnstats", name). */
window.dash_clientside = Object.assign({}, window.dash_clientside);
window.dash_clientside.learnstats = Object.assign({}, window.dash_clientside.learnstats, {
    /* The navbar's menu below 992 px (dashboards/_shell.py): the toggler opens or closes it,
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

/* Tab in a grid's header (the grids' cells take no focus): go from column to column, and past
   the last one (or before the first, with Shift) leave the grid instead of wrapping round to
   its first header again, which trapped the keyboard. Grid option tabToNextHeader. */
lsGridFuncs.lsTabOutOfHeader = function (params) {
    var next = params.nextHeaderPosition, previous = params.previousHeaderPosition;
    if (!next || !previous || !next.column || !previous.column) { return false; }
    var columns = params.api.getAllDisplayedColumns();
    var from = columns.indexOf(previous.column), to = columns.indexOf(next.column);
    if (next.headerRowIndex !== previous.headerRowIndex) { return false; }
    if (params.backwards ? to >= from : to <= from) { return false; }
    return next;
};
