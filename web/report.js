// Report form: warns about too many or too large files before the upload starts. Only a hint:
// the server enforces every limit itself.
(function () {
  var input = document.getElementById("attachment");
  if (!input) return;
  var zh = document.documentElement.lang === "zh-CN";
  input.addEventListener("change", function () {
    var max = parseInt(input.getAttribute("data-max-files"), 10);
    var maxBytes = parseInt(input.getAttribute("data-max-bytes"), 10);
    var msg = "";
    if (input.files.length > max) {
      msg = zh ? "文件太多：最多 " + max + " 个。" : "Too many files: at most " + max + ".";
    } else {
      for (var i = 0; i < input.files.length; i++) {
        if (input.files[i].size > maxBytes) {
          msg = (zh ? "文件太大：" : "File too large: ") + input.files[i].name;
          break;
        }
      }
    }
    input.setCustomValidity(msg);
    input.reportValidity();
  });
})();
