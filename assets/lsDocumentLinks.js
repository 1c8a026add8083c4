/* The session page's per-learner OPCO documents (dashboards/pages/session.py): the cell's value is the
   download path prefix "/download/attestation/<session>/<user>"; it renders two plain links (a
   file download, not an in-app navigation). No value: nothing to download (did not play). */
var lsDocumentFuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

lsDocumentFuncs.LsDocuments = function (props) {
    var base = props.value;
    if (typeof base !== "string" || base.indexOf("/download/attestation/") !== 0) {
        return React.createElement("span", { className: "text-muted" }, "–");
    }
    function link(kind, text, last) {
        return React.createElement(
            "a",
            { href: base + "/" + kind, className: last ? "ls-grid-link ls-doc-link" : "ls-grid-link ls-doc-link me-3", download: "" },
            text
        );
    }
    var labels = (props.colDef.cellRendererParams || {}).labels || {};
    return React.createElement(
        "span",
        null,
        link("attestation", labels.attestation || "Attestation"),
        link("certificate", labels.certificate || "Certificat", true)
    );
};
