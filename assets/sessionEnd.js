/* When the server says the session is over (401 from a Dash request: signed out elsewhere, or
   idle past LEARNSTATS_IDLE_TIMEOUT_MINUTES), go to the sign-in page, which says why and
   brings the user back here afterwards, instead of leaving a page whose callbacks all fail. */
(function () {
    "use strict";
    if (window.__learnstatsSessionEnd || typeof window.fetch !== "function") {
        return;
    }
    window.__learnstatsSessionEnd = true;
    var originalFetch = window.fetch;
    var leaving = false;

    function leave(expired) {
        if (leaving) {
            return;
        }
        leaving = true;
        var next = window.location.pathname + window.location.search;
        window.location.assign(
            "/login?" + (expired ? "expired=1&" : "") + "next=" + encodeURIComponent(next)
        );
    }

    window.fetch = function (input) {
        var url = typeof input === "string" ? input : (input && input.url) || "";
        return originalFetch.apply(window, arguments).then(function (response) {
            if (response.status === 401 && url.indexOf("/_dash-") !== -1) {
                response.clone().json().then(
                    function (body) {
                        leave(/without activity/.test((body && body.error) || ""));
                    },
                    function () {
                        leave(false);
                    }
                );
            }
            return response;
        });
    };
})();
