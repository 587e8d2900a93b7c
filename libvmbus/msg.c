/* SPDX-License-Identifier: MIT */
/*
 * Channel-management message codec: decode/validate, encode, names,
 * direction, versions and GUID text.
 *
 * Wire formats: include/vmbus/proto/vmbus.h (Linux include/linux/hyperv.h,
 * drivers/hv/channel_mgmt.c channel_message_table for the minimum sizes,
 * drivers/hv/connection.c for INITIATE_CONTACT; OpenVMM
 * vm/devices/vmbus/vmbus_core/src/protocol.rs for the longer 5.2/6.0 forms).
 *
 * Every multi-byte field is read and written byte by byte in little-endian
 * order, so the code is independent of host byte order and alignment, and a
 * decoded struct never aliases the (hostile) input.
 */
#include <vmbus/msg.h>

#include "freestanding.h"

/* ---- Little-endian access ------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	       ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static void get_guid(const uint8_t *p, struct vmbus_guid *g)
{
	memcpy(g->b, p, sizeof(g->b));
}

static void put_guid(uint8_t *p, const struct vmbus_guid *g)
{
	memcpy(p, g->b, sizeof(g->b));
}

/* Field offsets, taken from the packed wire structs so they cannot drift. */
#define OFF(type, field)	offsetof(struct type, field)

/* ---- Per-type facts ------------------------------------------------------- */

enum {
	DIR_G2H = 1,	/* guest to host */
	DIR_H2G = 2,	/* host to guest */
};

struct msg_info {
	const char *name;
	uint16_t min_size;	/* 0: not decoded by this library */
	uint8_t dir;
};

#define HDR_SIZE	sizeof(struct vmbus_channel_message_header)

/* Minimum sizes are the full structs of the oldest form, as in Linux's
 * channel_message_table and OpenVMM's parser (which accepts trailing bytes).
 * Types 18..20 and 25..29 are known by name and direction only. */
static const struct msg_info msg_table[] = {
	[CHANNELMSG_OFFERCHANNEL] = { "OFFERCHANNEL",
		sizeof(struct vmbus_channel_offer_channel), DIR_H2G },
	[CHANNELMSG_RESCIND_CHANNELOFFER] = { "RESCIND_CHANNELOFFER",
		sizeof(struct vmbus_channel_rescind_offer), DIR_H2G },
	[CHANNELMSG_REQUESTOFFERS] = { "REQUESTOFFERS", HDR_SIZE, DIR_G2H },
	[CHANNELMSG_ALLOFFERS_DELIVERED] = { "ALLOFFERS_DELIVERED", HDR_SIZE, DIR_H2G },
	[CHANNELMSG_OPENCHANNEL] = { "OPENCHANNEL",
		sizeof(struct vmbus_channel_open_channel), DIR_G2H },
	[CHANNELMSG_OPENCHANNEL_RESULT] = { "OPENCHANNEL_RESULT",
		sizeof(struct vmbus_channel_open_result), DIR_H2G },
	[CHANNELMSG_CLOSECHANNEL] = { "CLOSECHANNEL",
		sizeof(struct vmbus_channel_close_channel), DIR_G2H },
	[CHANNELMSG_GPADL_HEADER] = { "GPADL_HEADER",
		sizeof(struct vmbus_channel_gpadl_header), DIR_G2H },
	[CHANNELMSG_GPADL_BODY] = { "GPADL_BODY",
		sizeof(struct vmbus_channel_gpadl_body), DIR_G2H },
	[CHANNELMSG_GPADL_CREATED] = { "GPADL_CREATED",
		sizeof(struct vmbus_channel_gpadl_created), DIR_H2G },
	[CHANNELMSG_GPADL_TEARDOWN] = { "GPADL_TEARDOWN",
		sizeof(struct vmbus_channel_gpadl_teardown), DIR_G2H },
	[CHANNELMSG_GPADL_TORNDOWN] = { "GPADL_TORNDOWN",
		sizeof(struct vmbus_channel_gpadl_torndown), DIR_H2G },
	[CHANNELMSG_RELID_RELEASED] = { "RELID_RELEASED",
		sizeof(struct vmbus_channel_relid_released), DIR_G2H },
	[CHANNELMSG_INITIATE_CONTACT] = { "INITIATE_CONTACT",
		sizeof(struct vmbus_channel_initiate_contact), DIR_G2H },
	[CHANNELMSG_VERSION_RESPONSE] = { "VERSION_RESPONSE",
		sizeof(struct vmbus_channel_version_response), DIR_H2G },
	[CHANNELMSG_UNLOAD] = { "UNLOAD", HDR_SIZE, DIR_G2H },
	[CHANNELMSG_UNLOAD_RESPONSE] = { "UNLOAD_RESPONSE", HDR_SIZE, DIR_H2G },
	[CHANNELMSG_18] = { "OPEN_RESERVED_CHANNEL", 0, DIR_G2H },
	[CHANNELMSG_19] = { "CLOSE_RESERVED_CHANNEL", 0, DIR_G2H },
	[CHANNELMSG_20] = { "CLOSE_RESERVED_RESPONSE", 0, DIR_H2G },
	[CHANNELMSG_TL_CONNECT_REQUEST] = { "TL_CONNECT_REQUEST",
		sizeof(struct vmbus_channel_tl_connect_request), DIR_G2H },
	[CHANNELMSG_MODIFYCHANNEL] = { "MODIFYCHANNEL",
		sizeof(struct vmbus_channel_modifychannel), DIR_G2H },
	[CHANNELMSG_TL_CONNECT_RESULT] = { "TL_CONNECT_RESULT",
		sizeof(struct vmbus_channel_tl_connect_result), DIR_H2G },
	[CHANNELMSG_MODIFYCHANNEL_RESPONSE] = { "MODIFYCHANNEL_RESPONSE",
		sizeof(struct vmbus_channel_modifychannel_response), DIR_H2G },
	[CHANNELMSG_MODIFY_CONNECTION] = { "MODIFY_CONNECTION", 0, DIR_G2H },
	[CHANNELMSG_MODIFY_CONNECTION_RESPONSE] = { "MODIFY_CONNECTION_RESPONSE", 0, DIR_H2G },
	[CHANNELMSG_PAUSE] = { "PAUSE", 0, DIR_G2H },
	[CHANNELMSG_PAUSE_RESPONSE] = { "PAUSE_RESPONSE", 0, DIR_H2G },
	[CHANNELMSG_RESUME] = { "RESUME", 0, DIR_G2H },
};

#define MSG_TABLE_LEN	(sizeof(msg_table) / sizeof(msg_table[0]))

static const struct msg_info *msg_lookup(uint32_t type)
{
	if (type >= MSG_TABLE_LEN || !msg_table[type].name)
		return NULL;
	return &msg_table[type];
}

size_t vmbus_msg_min_size(uint32_t type)
{
	const struct msg_info *mi = msg_lookup(type);

	return mi ? mi->min_size : 0;
}

bool vmbus_msg_guest_may_send(uint32_t type)
{
	const struct msg_info *mi = msg_lookup(type);

	return mi && mi->dir == DIR_G2H;
}

bool vmbus_msg_host_may_send(uint32_t type)
{
	const struct msg_info *mi = msg_lookup(type);

	return mi && mi->dir == DIR_H2G;
}

const char *vmbus_msg_type_name(uint32_t type)
{
	const struct msg_info *mi = msg_lookup(type);

	return mi ? mi->name : "UNKNOWN";
}

/* ---- Decode --------------------------------------------------------------- */

static void dec_offer(const uint8_t *p, struct vmbus_msg_offer *o)
{
	get_guid(p + OFF(vmbus_channel_offer_channel, if_type), &o->if_type);
	get_guid(p + OFF(vmbus_channel_offer_channel, if_instance), &o->if_instance);
	o->chn_flags = get16(p + OFF(vmbus_channel_offer_channel, chn_flags));
	o->mmio_megabytes = get16(p + OFF(vmbus_channel_offer_channel, mmio_megabytes));
	memcpy(o->user_def, p + OFF(vmbus_channel_offer_channel, user_def),
	       sizeof(o->user_def));
	o->sub_channel_index =
		get16(p + OFF(vmbus_channel_offer_channel, sub_channel_index));
	o->mmio_megabytes_optional =
		get16(p + OFF(vmbus_channel_offer_channel, reserved3));
	o->child_relid = get32(p + OFF(vmbus_channel_offer_channel, child_relid));
	o->monitor_id = p[OFF(vmbus_channel_offer_channel, monitorid)];
	o->monitor_allocated = p[OFF(vmbus_channel_offer_channel, monitor_allocated)] &
			       VMBUS_OFFER_MONITOR_ALLOCATED;
	o->is_dedicated_interrupt =
		get16(p + OFF(vmbus_channel_offer_channel, is_dedicated_interrupt)) &
		VMBUS_OFFER_DEDICATED_INTERRUPT;
	o->connection_id = get32(p + OFF(vmbus_channel_offer_channel, connection_id));
}

static void dec_open(const uint8_t *p, size_t len, struct vmbus_msg_open *o)
{
	o->child_relid = get32(p + OFF(vmbus_channel_open_channel, child_relid));
	o->openid = get32(p + OFF(vmbus_channel_open_channel, openid));
	o->ringbuffer_gpadlhandle =
		get32(p + OFF(vmbus_channel_open_channel, ringbuffer_gpadlhandle));
	o->target_vp = get32(p + OFF(vmbus_channel_open_channel, target_vp));
	o->downstream_ringbuffer_pageoffset =
		get32(p + OFF(vmbus_channel_open_channel, downstream_ringbuffer_pageoffset));
	memcpy(o->userdata, p + OFF(vmbus_channel_open_channel, userdata),
	       sizeof(o->userdata));
	if (len < sizeof(struct vmbus_channel_open_channel2))
		return;
	o->has_ext = true;
	o->connection_id = get32(p + OFF(vmbus_channel_open_channel2, connection_id));
	o->event_flag = get16(p + OFF(vmbus_channel_open_channel2, event_flag));
	o->flags = get16(p + OFF(vmbus_channel_open_channel2, flags));
}

static void dec_initiate_contact(const uint8_t *p, size_t len,
				 struct vmbus_msg_initiate_contact *c)
{
	const uint8_t *u = p + OFF(vmbus_channel_initiate_contact, interrupt_page);

	c->version_requested =
		get32(p + OFF(vmbus_channel_initiate_contact, vmbus_version_requested));
	c->target_vcpu = get32(p + OFF(vmbus_channel_initiate_contact, target_vcpu));
	if (c->version_requested >= VERSION_WIN10_V5) {
		c->msg_sint = u[0];
		c->msg_vtl = u[1];
		c->feature_flags = get32(u + 4);
	} else {
		c->interrupt_page = get64(u);
	}
	c->monitor_page1 = get64(p + OFF(vmbus_channel_initiate_contact, monitor_page1));
	c->monitor_page2 = get64(p + OFF(vmbus_channel_initiate_contact, monitor_page2));
	if (len < sizeof(struct vmbus_channel_initiate_contact2))
		return;
	c->has_client_id = true;
	get_guid(p + OFF(vmbus_channel_initiate_contact2, client_id), &c->client_id);
}

static void dec_version_response(const uint8_t *p, size_t len,
				 struct vmbus_msg_version_response *r)
{
	r->version_supported =
		p[OFF(vmbus_channel_version_response, version_supported)];
	r->connection_state = p[OFF(vmbus_channel_version_response, connection_state)];
	r->msg_conn_id = get32(p + OFF(vmbus_channel_version_response, msg_conn_id));
	r->form = VMBUS_VERSION_RESPONSE_V1;
	if (len >= sizeof(struct vmbus_channel_version_response2)) {
		r->form = VMBUS_VERSION_RESPONSE_V2;
		r->supported_features =
			get32(p + OFF(vmbus_channel_version_response2, supported_features));
	}
	if (len >= sizeof(struct vmbus_channel_version_response3)) {
		r->form = VMBUS_VERSION_RESPONSE_V3;
		r->parent_to_child_monitor_page_gpa = get64(p +
			OFF(vmbus_channel_version_response3, parent_to_child_monitor_page_gpa));
		r->child_to_parent_monitor_page_gpa = get64(p +
			OFF(vmbus_channel_version_response3, child_to_parent_monitor_page_gpa));
	}
}

static void dec_tl_request(const uint8_t *p, size_t len,
			   struct vmbus_msg_tl_connect_request *t)
{
	get_guid(p + OFF(vmbus_channel_tl_connect_request, guest_endpoint_id),
		 &t->guest_endpoint_id);
	get_guid(p + OFF(vmbus_channel_tl_connect_request, host_service_id),
		 &t->host_service_id);
	if (len < sizeof(struct vmbus_channel_tl_connect_request2))
		return;
	t->has_silo_id = true;
	get_guid(p + OFF(vmbus_channel_tl_connect_request2, silo_id), &t->silo_id);
}

/* Both GPADL messages end in a variable tail; report where it is rather than
 * parse it, since only the GPADL table knows how many PFNs it still needs. */
static void tail(size_t len, size_t fixed, uint16_t *off, uint16_t *tlen)
{
	*off = (uint16_t)fixed;
	*tlen = (uint16_t)(len - fixed);
}

int vmbus_msg_decode(const void *buf, size_t len, struct vmbus_msg *out)
{
	const uint8_t *p = buf;
	const struct msg_info *mi;
	uint32_t type;

	if (!out || (!buf && len))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (len > VMBUS_MSG_MAX_SIZE)
		return -EMSGSIZE;
	if (len < HDR_SIZE)
		return -EBADMSG;

	type = get32(p + OFF(vmbus_channel_message_header, msgtype));
	mi = msg_lookup(type);
	if (!mi || !mi->min_size)
		return -ENOMSG;
	if (len < mi->min_size)
		return -EBADMSG;

	out->type = type;
	switch (type) {
	case CHANNELMSG_OFFERCHANNEL:
		dec_offer(p, &out->u.offer);
		break;
	case CHANNELMSG_RESCIND_CHANNELOFFER:
		out->u.rescind.child_relid =
			get32(p + OFF(vmbus_channel_rescind_offer, child_relid));
		break;
	case CHANNELMSG_OPENCHANNEL:
		dec_open(p, len, &out->u.open);
		break;
	case CHANNELMSG_OPENCHANNEL_RESULT:
		out->u.open_result.child_relid =
			get32(p + OFF(vmbus_channel_open_result, child_relid));
		out->u.open_result.openid =
			get32(p + OFF(vmbus_channel_open_result, openid));
		out->u.open_result.status =
			get32(p + OFF(vmbus_channel_open_result, status));
		break;
	case CHANNELMSG_CLOSECHANNEL:
		out->u.close.child_relid =
			get32(p + OFF(vmbus_channel_close_channel, child_relid));
		break;
	case CHANNELMSG_GPADL_HEADER:
		out->u.gpadl_header.child_relid =
			get32(p + OFF(vmbus_channel_gpadl_header, child_relid));
		out->u.gpadl_header.gpadl =
			get32(p + OFF(vmbus_channel_gpadl_header, gpadl));
		out->u.gpadl_header.range_buflen =
			get16(p + OFF(vmbus_channel_gpadl_header, range_buflen));
		out->u.gpadl_header.rangecount =
			get16(p + OFF(vmbus_channel_gpadl_header, rangecount));
		tail(len, sizeof(struct vmbus_channel_gpadl_header),
		     &out->u.gpadl_header.data_offset, &out->u.gpadl_header.data_len);
		break;
	case CHANNELMSG_GPADL_BODY:
		out->u.gpadl_body.msgnumber =
			get32(p + OFF(vmbus_channel_gpadl_body, msgnumber));
		out->u.gpadl_body.gpadl = get32(p + OFF(vmbus_channel_gpadl_body, gpadl));
		tail(len, sizeof(struct vmbus_channel_gpadl_body),
		     &out->u.gpadl_body.data_offset, &out->u.gpadl_body.data_len);
		break;
	case CHANNELMSG_GPADL_CREATED:
		out->u.gpadl_created.child_relid =
			get32(p + OFF(vmbus_channel_gpadl_created, child_relid));
		out->u.gpadl_created.gpadl =
			get32(p + OFF(vmbus_channel_gpadl_created, gpadl));
		out->u.gpadl_created.creation_status =
			get32(p + OFF(vmbus_channel_gpadl_created, creation_status));
		break;
	case CHANNELMSG_GPADL_TEARDOWN:
		out->u.gpadl_teardown.child_relid =
			get32(p + OFF(vmbus_channel_gpadl_teardown, child_relid));
		out->u.gpadl_teardown.gpadl =
			get32(p + OFF(vmbus_channel_gpadl_teardown, gpadl));
		break;
	case CHANNELMSG_GPADL_TORNDOWN:
		out->u.gpadl_torndown.gpadl =
			get32(p + OFF(vmbus_channel_gpadl_torndown, gpadl));
		break;
	case CHANNELMSG_RELID_RELEASED:
		out->u.relid_released.child_relid =
			get32(p + OFF(vmbus_channel_relid_released, child_relid));
		break;
	case CHANNELMSG_INITIATE_CONTACT:
		dec_initiate_contact(p, len, &out->u.initiate_contact);
		break;
	case CHANNELMSG_VERSION_RESPONSE:
		dec_version_response(p, len, &out->u.version_response);
		break;
	case CHANNELMSG_TL_CONNECT_REQUEST:
		dec_tl_request(p, len, &out->u.tl_connect_request);
		break;
	case CHANNELMSG_MODIFYCHANNEL:
		out->u.modifychannel.child_relid =
			get32(p + OFF(vmbus_channel_modifychannel, child_relid));
		out->u.modifychannel.target_vp =
			get32(p + OFF(vmbus_channel_modifychannel, target_vp));
		break;
	case CHANNELMSG_TL_CONNECT_RESULT:
		get_guid(p + OFF(vmbus_channel_tl_connect_result, guest_endpoint_id),
			 &out->u.tl_connect_result.guest_endpoint_id);
		get_guid(p + OFF(vmbus_channel_tl_connect_result, host_service_id),
			 &out->u.tl_connect_result.host_service_id);
		out->u.tl_connect_result.status =
			get32(p + OFF(vmbus_channel_tl_connect_result, status));
		break;
	case CHANNELMSG_MODIFYCHANNEL_RESPONSE:
		out->u.modifychannel_response.child_relid =
			get32(p + OFF(vmbus_channel_modifychannel_response, child_relid));
		out->u.modifychannel_response.status =
			get32(p + OFF(vmbus_channel_modifychannel_response, status));
		break;
	default:
		/* REQUESTOFFERS, ALLOFFERS_DELIVERED, UNLOAD, UNLOAD_RESPONSE. */
		break;
	}
	return (int)type;
}

/* ---- Encode --------------------------------------------------------------- */

static void enc_offer(uint8_t *p, const struct vmbus_msg_offer *o)
{
	put_guid(p + OFF(vmbus_channel_offer_channel, if_type), &o->if_type);
	put_guid(p + OFF(vmbus_channel_offer_channel, if_instance), &o->if_instance);
	put16(p + OFF(vmbus_channel_offer_channel, chn_flags), o->chn_flags);
	put16(p + OFF(vmbus_channel_offer_channel, mmio_megabytes), o->mmio_megabytes);
	memcpy(p + OFF(vmbus_channel_offer_channel, user_def), o->user_def,
	       sizeof(o->user_def));
	put16(p + OFF(vmbus_channel_offer_channel, sub_channel_index),
	      o->sub_channel_index);
	put16(p + OFF(vmbus_channel_offer_channel, reserved3),
	      o->mmio_megabytes_optional);
	put32(p + OFF(vmbus_channel_offer_channel, child_relid), o->child_relid);
	p[OFF(vmbus_channel_offer_channel, monitorid)] = o->monitor_id;
	p[OFF(vmbus_channel_offer_channel, monitor_allocated)] =
		o->monitor_allocated ? VMBUS_OFFER_MONITOR_ALLOCATED : 0;
	put16(p + OFF(vmbus_channel_offer_channel, is_dedicated_interrupt),
	      o->is_dedicated_interrupt ? VMBUS_OFFER_DEDICATED_INTERRUPT : 0);
	put32(p + OFF(vmbus_channel_offer_channel, connection_id), o->connection_id);
}

static size_t enc_open(uint8_t *p, const struct vmbus_msg_open *o)
{
	put32(p + OFF(vmbus_channel_open_channel, child_relid), o->child_relid);
	put32(p + OFF(vmbus_channel_open_channel, openid), o->openid);
	put32(p + OFF(vmbus_channel_open_channel, ringbuffer_gpadlhandle),
	      o->ringbuffer_gpadlhandle);
	put32(p + OFF(vmbus_channel_open_channel, target_vp), o->target_vp);
	put32(p + OFF(vmbus_channel_open_channel, downstream_ringbuffer_pageoffset),
	      o->downstream_ringbuffer_pageoffset);
	memcpy(p + OFF(vmbus_channel_open_channel, userdata), o->userdata,
	       sizeof(o->userdata));
	if (!o->has_ext)
		return sizeof(struct vmbus_channel_open_channel);
	put32(p + OFF(vmbus_channel_open_channel2, connection_id), o->connection_id);
	put16(p + OFF(vmbus_channel_open_channel2, event_flag), o->event_flag);
	put16(p + OFF(vmbus_channel_open_channel2, flags), o->flags);
	return sizeof(struct vmbus_channel_open_channel2);
}

static size_t enc_initiate_contact(uint8_t *p, const struct vmbus_msg_initiate_contact *c)
{
	uint8_t *u = p + OFF(vmbus_channel_initiate_contact, interrupt_page);

	put32(p + OFF(vmbus_channel_initiate_contact, vmbus_version_requested),
	      c->version_requested);
	put32(p + OFF(vmbus_channel_initiate_contact, target_vcpu), c->target_vcpu);
	if (c->version_requested >= VERSION_WIN10_V5) {
		u[0] = c->msg_sint;
		u[1] = c->msg_vtl;
		put32(u + 4, c->feature_flags);
	} else {
		put64(u, c->interrupt_page);
	}
	put64(p + OFF(vmbus_channel_initiate_contact, monitor_page1), c->monitor_page1);
	put64(p + OFF(vmbus_channel_initiate_contact, monitor_page2), c->monitor_page2);
	if (!c->has_client_id)
		return sizeof(struct vmbus_channel_initiate_contact);
	put_guid(p + OFF(vmbus_channel_initiate_contact2, client_id), &c->client_id);
	return sizeof(struct vmbus_channel_initiate_contact2);
}

static size_t enc_version_response(uint8_t *p, const struct vmbus_msg_version_response *r)
{
	p[OFF(vmbus_channel_version_response, version_supported)] = r->version_supported;
	p[OFF(vmbus_channel_version_response, connection_state)] = r->connection_state;
	put32(p + OFF(vmbus_channel_version_response, msg_conn_id), r->msg_conn_id);
	if (r->form == VMBUS_VERSION_RESPONSE_V1)
		return sizeof(struct vmbus_channel_version_response);
	put32(p + OFF(vmbus_channel_version_response2, supported_features),
	      r->supported_features);
	if (r->form == VMBUS_VERSION_RESPONSE_V2)
		return sizeof(struct vmbus_channel_version_response2);
	put64(p + OFF(vmbus_channel_version_response3, parent_to_child_monitor_page_gpa),
	      r->parent_to_child_monitor_page_gpa);
	put64(p + OFF(vmbus_channel_version_response3, child_to_parent_monitor_page_gpa),
	      r->child_to_parent_monitor_page_gpa);
	return sizeof(struct vmbus_channel_version_response3);
}

static size_t enc_tl_request(uint8_t *p, const struct vmbus_msg_tl_connect_request *t)
{
	put_guid(p + OFF(vmbus_channel_tl_connect_request, guest_endpoint_id),
		 &t->guest_endpoint_id);
	put_guid(p + OFF(vmbus_channel_tl_connect_request, host_service_id),
		 &t->host_service_id);
	if (!t->has_silo_id)
		return sizeof(struct vmbus_channel_tl_connect_request);
	put_guid(p + OFF(vmbus_channel_tl_connect_request2, silo_id), &t->silo_id);
	return sizeof(struct vmbus_channel_tl_connect_request2);
}

/* The size the encoder will produce, so it can check the buffer before
 * writing anything. 0 means the message cannot be encoded here. */
static size_t encoded_size(const struct vmbus_msg *m)
{
	switch (m->type) {
	case CHANNELMSG_GPADL_HEADER:
	case CHANNELMSG_GPADL_BODY:
		return 0;
	case CHANNELMSG_OPENCHANNEL:
		return m->u.open.has_ext ? sizeof(struct vmbus_channel_open_channel2) :
					   sizeof(struct vmbus_channel_open_channel);
	case CHANNELMSG_INITIATE_CONTACT:
		return m->u.initiate_contact.has_client_id ?
		       sizeof(struct vmbus_channel_initiate_contact2) :
		       sizeof(struct vmbus_channel_initiate_contact);
	case CHANNELMSG_VERSION_RESPONSE:
		switch (m->u.version_response.form) {
		case VMBUS_VERSION_RESPONSE_V1:
			return sizeof(struct vmbus_channel_version_response);
		case VMBUS_VERSION_RESPONSE_V2:
			return sizeof(struct vmbus_channel_version_response2);
		case VMBUS_VERSION_RESPONSE_V3:
			return sizeof(struct vmbus_channel_version_response3);
		default:
			return 0;
		}
	case CHANNELMSG_TL_CONNECT_REQUEST:
		return m->u.tl_connect_request.has_silo_id ?
		       sizeof(struct vmbus_channel_tl_connect_request2) :
		       sizeof(struct vmbus_channel_tl_connect_request);
	default:
		/* Every other decodable type has one fixed size. */
		return vmbus_msg_min_size(m->type);
	}
}

int vmbus_msg_encode(const struct vmbus_msg *m, void *buf, size_t size)
{
	uint8_t *p = buf;
	size_t need;

	if (!m || !buf)
		return -EINVAL;
	need = encoded_size(m);
	if (!need)
		return -EINVAL;
	if (size < need)
		return -ENOSPC;

	memset(p, 0, need);
	put32(p + OFF(vmbus_channel_message_header, msgtype), m->type);
	switch (m->type) {
	case CHANNELMSG_OFFERCHANNEL:
		enc_offer(p, &m->u.offer);
		break;
	case CHANNELMSG_RESCIND_CHANNELOFFER:
		put32(p + OFF(vmbus_channel_rescind_offer, child_relid),
		      m->u.rescind.child_relid);
		break;
	case CHANNELMSG_OPENCHANNEL:
		enc_open(p, &m->u.open);
		break;
	case CHANNELMSG_OPENCHANNEL_RESULT:
		put32(p + OFF(vmbus_channel_open_result, child_relid),
		      m->u.open_result.child_relid);
		put32(p + OFF(vmbus_channel_open_result, openid), m->u.open_result.openid);
		put32(p + OFF(vmbus_channel_open_result, status), m->u.open_result.status);
		break;
	case CHANNELMSG_CLOSECHANNEL:
		put32(p + OFF(vmbus_channel_close_channel, child_relid),
		      m->u.close.child_relid);
		break;
	case CHANNELMSG_GPADL_CREATED:
		put32(p + OFF(vmbus_channel_gpadl_created, child_relid),
		      m->u.gpadl_created.child_relid);
		put32(p + OFF(vmbus_channel_gpadl_created, gpadl), m->u.gpadl_created.gpadl);
		put32(p + OFF(vmbus_channel_gpadl_created, creation_status),
		      m->u.gpadl_created.creation_status);
		break;
	case CHANNELMSG_GPADL_TEARDOWN:
		put32(p + OFF(vmbus_channel_gpadl_teardown, child_relid),
		      m->u.gpadl_teardown.child_relid);
		put32(p + OFF(vmbus_channel_gpadl_teardown, gpadl),
		      m->u.gpadl_teardown.gpadl);
		break;
	case CHANNELMSG_GPADL_TORNDOWN:
		put32(p + OFF(vmbus_channel_gpadl_torndown, gpadl),
		      m->u.gpadl_torndown.gpadl);
		break;
	case CHANNELMSG_RELID_RELEASED:
		put32(p + OFF(vmbus_channel_relid_released, child_relid),
		      m->u.relid_released.child_relid);
		break;
	case CHANNELMSG_INITIATE_CONTACT:
		enc_initiate_contact(p, &m->u.initiate_contact);
		break;
	case CHANNELMSG_VERSION_RESPONSE:
		enc_version_response(p, &m->u.version_response);
		break;
	case CHANNELMSG_TL_CONNECT_REQUEST:
		enc_tl_request(p, &m->u.tl_connect_request);
		break;
	case CHANNELMSG_MODIFYCHANNEL:
		put32(p + OFF(vmbus_channel_modifychannel, child_relid),
		      m->u.modifychannel.child_relid);
		put32(p + OFF(vmbus_channel_modifychannel, target_vp),
		      m->u.modifychannel.target_vp);
		break;
	case CHANNELMSG_TL_CONNECT_RESULT:
		put_guid(p + OFF(vmbus_channel_tl_connect_result, guest_endpoint_id),
			 &m->u.tl_connect_result.guest_endpoint_id);
		put_guid(p + OFF(vmbus_channel_tl_connect_result, host_service_id),
			 &m->u.tl_connect_result.host_service_id);
		put32(p + OFF(vmbus_channel_tl_connect_result, status),
		      m->u.tl_connect_result.status);
		break;
	case CHANNELMSG_MODIFYCHANNEL_RESPONSE:
		put32(p + OFF(vmbus_channel_modifychannel_response, child_relid),
		      m->u.modifychannel_response.child_relid);
		put32(p + OFF(vmbus_channel_modifychannel_response, status),
		      m->u.modifychannel_response.status);
		break;
	default:
		/* Header-only messages. */
		break;
	}
	return (int)need;
}

/* ---- Versions ------------------------------------------------------------- */

const uint32_t vmbus_versions[VMBUS_VERSION_COUNT] = {
	VERSION_WIN10_V5_3,
	VERSION_WIN10_V5_2,
	VERSION_WIN10_V5_1,
	VERSION_WIN10_V5,
	VERSION_WIN10_V4_1,
	VERSION_WIN10,
	VERSION_WIN8_1,
	VERSION_WIN8,
};

bool vmbus_version_known(uint32_t version)
{
	size_t i;

	for (i = 0; i < VMBUS_VERSION_COUNT; i++)
		if (vmbus_versions[i] == version)
			return true;
	return false;
}

uint32_t vmbus_version_contact_conn_id(uint32_t version)
{
	return version >= VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID_4 :
					     VMBUS_MESSAGE_CONNECTION_ID;
}

/* Decimal digits of v at p; returns how many were written (at most 5). */
static size_t put_dec16(char *p, uint16_t v)
{
	char tmp[5];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

int vmbus_version_str(uint32_t version, char *buf, size_t size)
{
	char tmp[VMBUS_VERSION_STR_SIZE];
	size_t n;

	if (!buf)
		return -EINVAL;
	n = put_dec16(tmp, (uint16_t)VMBUS_VERSION_MAJOR(version));
	tmp[n++] = '.';
	n += put_dec16(tmp + n, (uint16_t)VMBUS_VERSION_MINOR(version));
	if (n >= size) {
		if (size)
			buf[0] = '\0';
		return -ENOSPC;
	}
	memcpy(buf, tmp, n);
	buf[n] = '\0';
	return (int)n;
}

/* ---- GUIDs ---------------------------------------------------------------- */

/* Which wire byte each pair of hex digits in the text stands for: the first
 * three groups are little-endian on the wire, the last two are not. A dash
 * comes before text groups starting at pair 4, 6, 8 and 10. */
static const uint8_t guid_text_order[16] = {
	3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15,
};

static bool guid_dash_before(size_t pair)
{
	return pair == 4 || pair == 6 || pair == 8 || pair == 10;
}

void vmbus_guid_format(const struct vmbus_guid *g, char out[VMBUS_GUID_STR_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = 0;

	for (i = 0; i < 16; i++) {
		uint8_t b = g->b[guid_text_order[i]];

		if (guid_dash_before(i))
			out[n++] = '-';
		out[n++] = hex[b >> 4];
		out[n++] = hex[b & 0xf];
	}
	out[n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int vmbus_guid_parse(const char *s, struct vmbus_guid *out)
{
	struct vmbus_guid g;
	size_t i, n = 0;

	if (!s || !out)
		return -EINVAL;
	/* Walk the string with the format; a NUL anywhere before the end
	 * fails a digit or dash check, so nothing past it is read. */
	for (i = 0; i < 16; i++) {
		int hi, lo;

		if (guid_dash_before(i) && s[n++] != '-')
			return -EINVAL;
		hi = hexval(s[n]);
		if (hi < 0)
			return -EINVAL;
		lo = hexval(s[n + 1]);
		if (lo < 0)
			return -EINVAL;
		n += 2;
		g.b[guid_text_order[i]] = (uint8_t)(hi << 4 | lo);
	}
	if (s[n] != '\0')
		return -EINVAL;
	*out = g;
	return 0;
}

bool vmbus_guid_equal(const struct vmbus_guid *a, const struct vmbus_guid *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}
