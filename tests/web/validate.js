// Validate glTF files with the Khronos glTF Validator; prints one JSON line per file:
// {"file", "errors", "warnings", "infos", "hints", "messages": [{"severity", "code", "message", "pointer"}]}.
const fs = require('fs');
const validator = require('gltf-validator');

(async () => {
  for (const file of process.argv.slice(2)) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)), { maxIssues: 100 });
    const issues = report.issues;
    console.log(JSON.stringify({
      file,
      errors: issues.numErrors,
      warnings: issues.numWarnings,
      infos: issues.numInfos,
      hints: issues.numHints,
      messages: issues.messages.map(m => ({ severity: m.severity, code: m.code, message: m.message, pointer: m.pointer })),
    }));
  }
})();
