/* The web chat (bot/web.py) as a live chat. Plain ES5 for old phone browsers, no build
   step. Every text goes in with textContent, never as HTML. Without this script the
   page's forms still post to /chat. */
(function () {
  "use strict";
  var log = document.getElementById("log");
  var end = document.getElementById("end");
  var choices = document.getElementById("choices");
  var form = document.getElementById("send");
  var input = document.getElementById("text");
  if (!log || !choices || !form || !input || !window.XMLHttpRequest || !window.JSON) { return; }
  var errorText = form.getAttribute("data-error");
  var doneText = choices.getAttribute("data-done");
  var pending = null; /* {text, id}: sent again with the same id, so it is never doubled */
  var busy = false;

  function newId() {
    var bytes = new Uint8Array(12), out = "", i;
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    for (i = 0; i < bytes.length; i++) { out += ("0" + bytes[i].toString(16)).slice(-2); }
    return out;
  }

  function show(who, text) {
    var div = document.createElement("div");
    div.className = "msg " + who;
    div.textContent = text;
    log.insertBefore(div, end);
    reveal(div);
    return div;
  }

  /* After a message: the buttons and the box to type in come into view (they are below
     the conversation), unless that hides the start of the message: then its start. */
  function reveal(last) {
    form.scrollIntoView(false);
    if (last && last.getBoundingClientRect().top < 0) { last.scrollIntoView(true); }
  }

  function button(name, value, text) {
    var element = document.createElement("button");
    element.type = "submit";
    element.name = name;
    element.value = value;
    element.textContent = text;
    return choices.appendChild(element);
  }

  /* The reply's choices, as web_page.j2 shows them: buttons, or in a multi-select
     checkboxes (but its "alone" choice, 都没有) and a button that sends the picks. */
  function offer(reply) {
    var list = reply.choices || [], hidden = choices.querySelector("input[name=id]");
    while (choices.lastChild) { choices.removeChild(choices.lastChild); }
    if (hidden) { choices.appendChild(hidden); }
    for (var i = 0; i < list.length; i++) {
      var n = String(i + 1);
      if (reply.multi && i + 1 !== reply.alone) {
        var label = document.createElement("label"), box = document.createElement("input");
        var span = document.createElement("span");
        label.className = "pick";
        box.type = "checkbox";
        box.name = "pick";
        box.value = n;
        span.textContent = n + " " + list[i];
        label.appendChild(box);
        label.appendChild(span);
        choices.appendChild(label);
      } else {
        button("choice", n, n + " " + list[i]);
      }
    }
    if (reply.multi) { button("done", "1", doneText).className = "done"; }
    picks();
  }

  /* The options ticked, as typed ("1 4"); the button that sends them waits for one. */
  function picks() {
    var boxes = choices.querySelectorAll("input[name=pick]"), out = [];
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].checked) { out.push(boxes[i].value); }
    }
    var done = choices.querySelector("button[name=done]");
    if (done) { done.disabled = !out.length; }
    return out.join(" ");
  }

  function showReplies(replies) {
    var last = {}, div = null;
    for (var i = 0; i < replies.length; i++) {
      div = show("bot", replies[i].text);
      last = replies[i];
    }
    if (replies.length) { offer(last); reveal(div); }
  }

  function request(method, url, body, done) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url, true);
    xhr.timeout = 20000;
    if (body !== null) { xhr.setRequestHeader("Content-Type", "application/json"); }
    xhr.onload = function () {
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      done(xhr.status, data);
    };
    xhr.onerror = xhr.ontimeout = function () { done(0, null); };
    xhr.send(body === null ? null : JSON.stringify(body));
  }

  function send(text) {
    if (busy || !text) { return; }
    if (!pending || pending.text !== text) { pending = { text: text, id: newId() }; }
    busy = true;
    request("POST", "/api/chat", { text: text, id: pending.id }, function (status, data) {
      busy = false;
      if (status === 200 && data && data.replies) {
        show("me", text);
        pending = null;
        input.value = "";
        showReplies(data.replies);
        poll(); /* a staff reply waiting meanwhile shows now, not at the next tick */
      } else {
        show("notice", (data && data.message) || errorText);
      }
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(input.value.replace(/^\s+|\s+$/g, ""));
  });
  choices.addEventListener("submit", function (event) { event.preventDefault(); });
  choices.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.name === "choice") {
      event.preventDefault();
      send(target.value);
    } else if (target && target.name === "done") {
      event.preventDefault();
      send(picks());
    }
  });
  choices.addEventListener("change", picks);
  picks();

  function poll() {
    if (document.hidden) { return; }
    request("GET", "/api/chat/poll", null, function (status, data) {
      if (status === 200 && data && data.replies) { showReplies(data.replies); }
    });
  }
  window.setInterval(poll, 20000);
  /* coming back to the page (the interval skips a hidden one): fetch at once */
  document.addEventListener("visibilitychange", poll);
  reveal(end.previousElementSibling);
}());
