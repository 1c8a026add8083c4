/* Cell renderers for dash-ag-grid (columnDefs "cellRenderer": "<name>"). */
var dagcomponentfuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

/* An in-app link: the cell's value is the text, cellRendererParams.hrefField names the row field
   holding the path. Only paths inside the app ("/...") are linked. A plain click navigates the
   way dcc.Link does (no page reload); ctrl/cmd/shift/middle click keep the browser's behaviour. */
dagcomponentfuncs.LsLink = function (props) {
    var params = props.colDef.cellRendererParams || {};
    var href = props.data ? props.data[params.hrefField] : null;
    var text = props.valueFormatted != null ? props.valueFormatted : props.value;
    if (text === null || text === undefined) { text = ""; }
    // A second, smaller line under the text (the session's learners: the email), when asked.
    var detail = params.detailField && props.data ? props.data[params.detailField] : null;
    function withDetail(element) {
        if (detail === null || detail === undefined || detail === "") { return element; }
        return React.createElement("span", null, element,
            React.createElement("span", { className: "ls-grid-detail" }, String(detail)));
    }
    if (typeof href !== "string" || href.charAt(0) !== "/" || href.charAt(1) === "/") {
        return withDetail(React.createElement("span", null, String(text)));
    }
    return withDetail(React.createElement(
        "a",
        {
            href: href,
            className: "ls-grid-link",
            onClick: function (event) {
                if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
                    return;
                }
                event.preventDefault();
                window.history.pushState({}, "", href);
                window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
                window.scrollTo(0, 0);
            },
        },
        String(text)
    ));
};
