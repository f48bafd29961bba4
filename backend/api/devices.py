from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import current_principal, require_roles
from backend.schemas.devices import DeviceRegisterSchema, DeviceSchema
from backend.services import devices as devices_service

blp = Blueprint("devices", __name__, description="The patient's devices, for push reminders")


@blp.route("/me/devices")
class MyDevices(MethodView):
    @require_roles("patient")
    @blp.arguments(DeviceRegisterSchema)
    @blp.response(201, DeviceSchema)
    @blp.alt_response(200, schema=DeviceSchema, description="The device was already registered")
    @errors(blp, 401, 403, 404)
    def post(self, data):
        """Register this phone's push token (201; 200 when it was already registered)"""
        device, created = devices_service.register_device(current_principal(), data)
        return device, 201 if created else 200
