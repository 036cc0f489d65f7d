// validate.cjs FILE: checks an OpenAPI document with @apidevtools/swagger-parser
// (the OpenAPI 3.0 JSON schema, then its own checks: $refs resolve, path
// parameters match the path template, operationIds are unique).  Prints
// "valid" and exits 0, or prints the errors and exits 1.
"use strict";
const SwaggerParser = require("@apidevtools/swagger-parser");

async function main() {
  const file = process.argv[2];
  try {
    const api = await SwaggerParser.validate(file);
    console.log("valid: OpenAPI %s, %d paths", api.openapi, Object.keys(api.paths).length);
  } catch (err) {
    console.log("invalid: %s", err.message);
    if (err.details)
      console.log(JSON.stringify(err.details, null, 1).slice(0, 4000));
    process.exit(1);
  }
}
main();
