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
    @blp.response(200, DeviceSchema(many=True))
    @errors(blp, 401, 403, 404)
    def get(self):
        """The caller's devices (retired ones too, with `active: false`)"""
        return devices_service.my_devices(current_principal())

    @require_roles("patient")
    @blp.arguments(DeviceRegisterSchema)
    @blp.response(201, DeviceSchema)
    @blp.alt_response(200, schema=DeviceSchema, description="The device was already registered")
    @errors(blp, 401, 403, 404, 409)
    def post(self, data):
        """Register this phone's push token (201; 200 when it was already registered; 409
        `device_in_use` while another patient is still signed in on this phone)"""
        device, created = devices_service.register_device(current_principal(), data)
        return device, 201 if created else 200


@blp.route("/me/devices/<device_id>")
class MyDevice(MethodView):
    @require_roles("patient")
    @blp.response(204)
    @errors(blp, 401, 403, 404)
    def delete(self, device_id):
        """Forget this device: no more push reminders to it (the app calls this at sign-out)"""
        devices_service.remove_device(current_principal(), device_id)
