// Clerk page: keep the code box ready for the next scan, and scan QR codes with the camera
// (the browser's BarcodeDetector where present, else the vendored jsQR 1.4.0; no CDN).
(function () {
  "use strict";
  var input = document.getElementById("id_code");
  var form = document.getElementById("code-form");
  var amount = document.getElementById("id_order_amount");
  var redeemButton = document.getElementById("redeem-button");
  var cameraButton = document.getElementById("camera-button");
  var video = document.getElementById("camera");
  var canvas = document.getElementById("camera-frame");
  if (!input || !form) return;
  var askAmount = form.hasAttribute("data-ask-amount");

  if (askAmount && amount) {
    // Check asked for the order amount (minimum order or percentage off): the amount box
    // has the focus, and Enter there redeems — scan, amount, Enter.
    if (amount.value === amount.defaultValue) {
      amount.focus();
      amount.select();
    }
    amount.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && redeemButton) {
        event.preventDefault();
        redeemButton.click();
      }
    });
  } else if (input.value === input.defaultValue) {
    // After a result, select the box so the next scan replaces what is there (a refused
    // code stays in it, to be corrected or scanned over) — unless the clerk or a scanner
    // has already started typing (this script is deferred and may run mid-scan;
    // selecting then would let the next keystroke wipe what came before).
    input.focus();
    input.select();
  }

  var canUseCamera = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  if (!canUseCamera) return;
  cameraButton.hidden = false;

  var detector = null;
  if ("BarcodeDetector" in window) {
    try { detector = new window.BarcodeDetector({ formats: ["qr_code"] }); } catch (e) { detector = null; }
  }

  function found(text) {
    stop();
    input.value = text;
    form.submit();
  }

  var stream = null;
  function stop() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    video.hidden = true;
  }

  function scanFrame() {
    if (!stream) return;
    if (detector) {
      detector.detect(video).then(function (codes) {
        if (codes.length) found(codes[0].rawValue); else requestAnimationFrame(scanFrame);
      }).catch(function () { requestAnimationFrame(scanFrame); });
      return;
    }
    if (video.readyState === video.HAVE_ENOUGH_DATA && window.jsQR) {
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      var ctx = canvas.getContext("2d");
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
      var result = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      if (result && result.data) { found(result.data); return; }
    }
    requestAnimationFrame(scanFrame);
  }

  cameraButton.addEventListener("click", function () {
    if (stream) { stop(); return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      video.play();
      requestAnimationFrame(scanFrame);
    }).catch(function () { cameraButton.hidden = true; });
  });
})();
