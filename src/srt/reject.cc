#include "srtfwd/srt/reject.h"

namespace srtfwd::srt {

std::string_view reject_name(std::uint32_t reason) {
  switch (reason) {
    case kRejUnknown: return "SRT_REJ_UNKNOWN";
    case kRejSystem: return "SRT_REJ_SYSTEM";
    case kRejPeer: return "SRT_REJ_PEER";
    case kRejResource: return "SRT_REJ_RESOURCE";
    case kRejRogue: return "SRT_REJ_ROGUE";
    case kRejBacklog: return "SRT_REJ_BACKLOG";
    case kRejIpe: return "SRT_REJ_IPE";
    case kRejClose: return "SRT_REJ_CLOSE";
    case kRejVersion: return "SRT_REJ_VERSION";
    case kRejRdvCookie: return "SRT_REJ_RDVCOOKIE";
    case kRejBadSecret: return "SRT_REJ_BADSECRET";
    case kRejUnsecure: return "SRT_REJ_UNSECURE";
    case kRejMessageApi: return "SRT_REJ_MESSAGEAPI";
    case kRejCongestion: return "SRT_REJ_CONGESTION";
    case kRejFilter: return "SRT_REJ_FILTER";
    case kRejGroup: return "SRT_REJ_GROUP";
    case kRejTimeout: return "SRT_REJ_TIMEOUT";
    case kRejXFallback: return "SRT_REJX_FALLBACK";
    case kRejXKeyNotSup: return "SRT_REJX_KEY_NOTSUP";
    case kRejXFilePath: return "SRT_REJX_FILEPATH";
    case kRejXHostNotFound: return "SRT_REJX_HOSTNOTFOUND";
    case kRejXBadRequest: return "SRT_REJX_BAD_REQUEST";
    case kRejXUnauthorized: return "SRT_REJX_UNAUTHORIZED";
    case kRejXOverload: return "SRT_REJX_OVERLOAD";
    case kRejXForbidden: return "SRT_REJX_FORBIDDEN";
    case kRejXNotFound: return "SRT_REJX_NOTFOUND";
    case kRejXBadMode: return "SRT_REJX_BAD_MODE";
    case kRejXUnacceptable: return "SRT_REJX_UNACCEPTABLE";
    case kRejXConflict: return "SRT_REJX_CONFLICT";
    case kRejXNotSupMedia: return "SRT_REJX_NOTSUP_MEDIA";
    case kRejXLocked: return "SRT_REJX_LOCKED";
    case kRejXFailedDepend: return "SRT_REJX_FAILED_DEPEND";
    case kRejXIse: return "SRT_REJX_ISE";
    case kRejXUnimplemented: return "SRT_REJX_UNIMPLEMENTED";
    case kRejXGw: return "SRT_REJX_GW";
    case kRejXDown: return "SRT_REJX_DOWN";
    case kRejXVersion: return "SRT_REJX_VERSION";
    case kRejXNoRoom: return "SRT_REJX_NOROOM";
    default: break;
  }
  if (reason >= kRejUserDefinedBase) return "SRT_REJC_USERDEFINED";
  if (reason >= kRejPredefinedBase) return "SRT_REJC_PREDEFINED";
  return "SRT_REJ_UNKNOWN";
}

}  // namespace srtfwd::srt
