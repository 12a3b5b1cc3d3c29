// Links with a one-time code (password setup, invitations) carry it after "#", which browsers
// never send to a server. Put it into the form, take it out of the address bar, hide the field.
document.addEventListener("DOMContentLoaded", () => {
  const code = decodeURIComponent(window.location.hash.slice(1));
  const field = document.getElementById("token");
  if (!code || !field) {
    return;
  }
  field.value = code;
  history.replaceState(null, "", window.location.pathname);
  document.getElementById("code-field").hidden = true;
});
