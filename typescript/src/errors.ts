// From a native `ik_error` to the generated class of its status.
import { type ErrorDetails, InferenceKeyError } from "./error-base.js";
import { ERROR_CLASSES, InvalidStateError } from "./errors.generated.js";
import { type NativeError, type Pointer, takeError } from "./native.js";
import { camelKeys } from "./wire.js";

export { type ErrorDetails, type ErrorInit, InferenceKeyError } from "./error-base.js";
export * from "./errors.generated.js";

/** The error for a native status and its (possibly absent) `ik_error`, which is freed. */
export function errorFromNative(status: number, err: Pointer | null): InferenceKeyError {
  const info: NativeError =
    err === null
      ? { status, httpStatus: 0, code: "", message: `native call failed with status ${status}`, requestId: null, detailsJson: null }
      : takeError(err);
  const cls = ERROR_CLASSES.get(info.status) ?? ERROR_CLASSES.get(status) ?? InferenceKeyError;
  let details: ErrorDetails = {};
  if (info.detailsJson) {
    try {
      details = camelKeys(JSON.parse(info.detailsJson), new Set(["live", "desired"])) as ErrorDetails;
    } catch {
      // A malformed detail must not hide the real error.
    }
  }
  return new cls(info.message, {
    code: info.code || null,
    statusCode: info.httpStatus || null,
    requestId: info.requestId,
    details,
  });
}

/** Thrown by any call on a closed client, endpoint or stream. */
export function closedError(what: string): InferenceKeyError {
  return new InvalidStateError(`this ${what} is closed`, { code: "client_closed" });
}
