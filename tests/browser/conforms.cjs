// conforms.cjs DOC COMPONENT JSON: checks the JSON text against the schema
// #/components/schemas/COMPONENT of the OpenAPI document in file DOC, with
// ajv (the JSON Schema validator @apidevtools/swagger-parser brings), which
// reads `nullable` as OpenAPI 3.0 does; the formats the document uses are
// checked as OpenAPI defines them (int32 in range, int64 and uint64 as
// decimal strings in range, byte as base64, date-time as RFC 3339).
// Prints "conforms" and exits 0, or prints each error and exits 1.
"use strict";
const fs = require("fs");
const Ajv = require("ajv");

const INT = /^-?[0-9]+$/;
const formats = {
  int32: {type: "number", validate: n => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31},
  int64: {type: "string",
          validate: s => INT.test(s) && BigInt(s) >= -(2n ** 63n) && BigInt(s) < 2n ** 63n},
  uint64: {type: "string", validate: s => /^[0-9]+$/.test(s) && BigInt(s) < 2n ** 64n},
  float: {type: "number", validate: () => true},
  double: {type: "number", validate: () => true},
  byte: {type: "string",
         validate: s => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)},
  "date-time": {type: "string",
                validate: s => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(s)},
};

const [file, component, text] = process.argv.slice(2);
const doc = JSON.parse(fs.readFileSync(file, "utf8"));
const ajv = new Ajv({strict: false, allErrors: true});
for (const [name, format] of Object.entries(formats))
  ajv.addFormat(name, format);
const validate = ajv.compile({components: doc.components,
                              $ref: "#/components/schemas/" + component});
if (validate(JSON.parse(text))) {
  console.log("conforms");
} else {
  for (const e of validate.errors)
    console.log("%s %s (%s)", e.instancePath || "/", e.message, e.schemaPath);
  process.exit(1);
}
