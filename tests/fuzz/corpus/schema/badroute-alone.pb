
À
badroute.protobadroutegoogle/api/annotations.proto"
Sub
id (	Rid"Y
Req
id (	Rid
sub (2.badroute.SubRsub!
subs (2.badroute.SubRsubs2ñ
Broken;
Fine.badroute.Req.badroute.Req"Ç”‰ì/v1/fine/{id}D
Lookup.badroute.Req.badroute.Req"Ç”‰ì/v1/lookup/{missing}B
BadBody.badroute.Req.badroute.Req"Ç”‰ì"/v1/badbody:nopeN
BadResponseBody.badroute.Req.badroute.Req"Ç”‰ì/v1/badresponsebnopeC
GetWithBody.badroute.Req.badroute.Req"Ç”‰ì/v1/getbody:*?
BadTemplate.badroute.Req.badroute.Req"Ç”‰ì
/v1/a/**/bA

MessageVar.badroute.Req.badroute.Req"Ç”‰ì/v1/msg/{sub}G
RepeatedPath.badroute.Req.badroute.Req"Ç”‰ì/v1/rep/{subs.id}:
DupA.badroute.Req.badroute.Req"Ç”‰ì/v1/dup/{id}J
DupB.badroute.Req.badroute.Req"$Ç”‰ì	/v1/dup/*Z"/v1/dup/{id}:*[
BadAdditional.badroute.Req.badroute.Req",Ç”‰ì&/v1/good/{id}Z/v1/also/{sub.nope}bproto3