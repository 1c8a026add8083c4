/* The navbar's language form goes back to the page shown (the server only sees Dash's
   requests, not the address in the browser). */
document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.id === "shell-language-form") {
        var next = document.getElementById("shell-language-next");
        if (next) { next.value = window.location.pathname + window.location.search; }
    }
}, true);
